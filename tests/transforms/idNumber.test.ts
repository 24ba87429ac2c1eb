import {
  birthDateFromId,
  crossCheckId,
  genderFromId,
  idCheckChar,
  isValidIdNumber,
  normalizeIdNumber,
  upgradeLegacyId,
} from '../../transforms/idNumber';

// 11010119900101001: Σ d·w = 7+9+0+5+0+4+2+9+54+0+0+9+0+5+0+0+2 = 106, 106 mod 11 = 7 → '5'.
const VALID_MALE = '110101199001010015';
const VALID_X = '11010519491231002X'; // the standard's own example: female, born 1949-12-31

describe('idCheckChar', () => {
  it('computes the GB 11643 check character', () => {
    expect(idCheckChar('11010119900101001')).toBe('5');
    expect(idCheckChar('11010519491231002')).toBe('X');
    expect(idCheckChar('44030319850307123')).toBe('5');
    expect(idCheckChar('31010419800229002')).toBe('2');
  });
  it('rejects input that is not 17 digits', () => {
    expect(() => idCheckChar('1101011990010100')).toThrow(RangeError);
    expect(() => idCheckChar('1101011990010100A')).toThrow(RangeError);
  });
});

describe('isValidIdNumber', () => {
  it('accepts valid IDs', () => {
    expect(isValidIdNumber(VALID_MALE)).toBe(true);
    expect(isValidIdNumber(VALID_X)).toBe(true);
    expect(isValidIdNumber('310104198002290022')).toBe(true); // 1980 is a leap year
  });
  it('rejects a wrong check character, lowercase x, bad dates and bad formats', () => {
    expect(isValidIdNumber('110101199001010016')).toBe(false);
    expect(isValidIdNumber('11010519491231002x')).toBe(false);
    expect(isValidIdNumber('110105194912310021')).toBe(false);
    // 1981-02-29 does not exist (check char computed for the digits so only the date is wrong)
    const badDate17 = '31010419810229002';
    expect(isValidIdNumber(badDate17 + idCheckChar(badDate17))).toBe(false);
    const month13 = '11010119901301001';
    expect(isValidIdNumber(month13 + idCheckChar(month13))).toBe(false);
    expect(isValidIdNumber('')).toBe(false);
    expect(isValidIdNumber('11010119900101001')).toBe(false);
    expect(isValidIdNumber('1101011990010100155')).toBe(false);
    expect(isValidIdNumber('010101199001010015')).toBe(false);
  });
});

describe('upgradeLegacyId', () => {
  it('inserts 19 before the two-digit year and appends the check character', () => {
    expect(upgradeLegacyId('110105491231002')).toBe(VALID_X);
    expect(upgradeLegacyId('110101900101001')).toBe(VALID_MALE);
  });
  it('rejects anything but 15 digits', () => {
    expect(() => upgradeLegacyId('11010549123100')).toThrow(RangeError);
    expect(() => upgradeLegacyId('11010549123100X')).toThrow(RangeError);
  });
});

describe('normalizeIdNumber', () => {
  it('cleans spacing, width, case and legacy forms', () => {
    expect(normalizeIdNumber(VALID_X)).toEqual({ value: VALID_X });
    expect(normalizeIdNumber('  11010519491231002x ')).toEqual({ value: VALID_X });
    expect(normalizeIdNumber('１１０１０５１９４９１２３１００２Ｘ')).toEqual({ value: VALID_X });
    expect(normalizeIdNumber('１１０１０５１９４９１２３１００２ｘ')).toEqual({ value: VALID_X });
    expect(normalizeIdNumber('110105491231002')).toEqual({ value: VALID_X });
    expect(normalizeIdNumber('110101 19900101 0015')).toEqual({ value: VALID_MALE });
  });
  it('reports why an ID was rejected', () => {
    expect(normalizeIdNumber('')).toEqual({ value: null, error: 'empty' });
    expect(normalizeIdNumber('   ')).toEqual({ value: null, error: 'empty' });
    expect(normalizeIdNumber(null)).toEqual({ value: null, error: 'empty' });
    expect(normalizeIdNumber('N/A')).toEqual({ value: null, error: 'bad_format' });
    expect(normalizeIdNumber('11010119900101001')).toEqual({ value: null, error: 'bad_format' });
    expect(normalizeIdNumber('11010119900101001Y')).toEqual({ value: null, error: 'bad_format' });
    expect(normalizeIdNumber('110101199001010016')).toEqual({ value: null, error: 'bad_checksum', body: '11010119900101001' });
    const badDate17 = '31010419810229002';
    expect(normalizeIdNumber(badDate17 + idCheckChar(badDate17))).toEqual({ value: null, error: 'bad_birth_date' });
    expect(normalizeIdNumber('110101901301001')).toEqual({ value: null, error: 'bad_birth_date' });
  });
});

describe('birthDateFromId / genderFromId', () => {
  it('reads the birth date and the gender digit', () => {
    expect(birthDateFromId(VALID_X)).toBe('1949-12-31');
    expect(birthDateFromId(VALID_MALE)).toBe('1990-01-01');
    expect(genderFromId(VALID_X)).toBe('F'); // 17th digit 2
    expect(genderFromId(VALID_MALE)).toBe('M'); // 17th digit 1
  });
});

describe('crossCheckId', () => {
  it('agrees when the KYC fields match the ID or are missing', () => {
    expect(crossCheckId(VALID_MALE, '1990-01-01', 'M')).toEqual([]);
    expect(crossCheckId(VALID_X, '1949-12-31', 'F')).toEqual([]);
    expect(crossCheckId(VALID_MALE, null, null)).toEqual([]);
  });
  it('reports each field that contradicts the ID', () => {
    expect(crossCheckId(VALID_MALE, '1990-01-02', 'M')).toEqual(['id_birth_date_mismatch']);
    expect(crossCheckId(VALID_MALE, '1990-01-01', 'F')).toEqual(['id_gender_mismatch']);
    expect(crossCheckId(VALID_X, '1994-12-31', 'M')).toEqual(['id_birth_date_mismatch', 'id_gender_mismatch']);
  });
});
