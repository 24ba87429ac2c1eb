import { cityTier, cleanCustomer, goldenIdFor, type RawCustomer } from '../../transforms/customerRecord';
import { idCheckChar } from '../../transforms/idNumber';
import { keyedHash } from '../../transforms/normalize';

const KEY = 'test-pii-key';

// Born 1985-03-07, sequence 169 (17th digit 9: odd → male). The check character is X, so the card system's
// lowercase 'x' variant is meaningful; the 15-digit legacy form drops '19' and the check character.
const FIRST17 = '44030319850307169';
const ID18 = FIRST17 + idCheckChar(FIRST17);
const ID15 = '440303850307169';

const raw = (overrides: Partial<RawCustomer> = {}): RawCustomer => ({
  source_system: 'core',
  customer_key: 'C001',
  name: '张三丰',
  id_number: ID18,
  phone: '13800138000',
  birth_date: '1985-03-07',
  gender: 'M',
  city: '深圳',
  occupation: 'engineer',
  annual_income: '250000.00',
  opened_at: '2015-06-01',
  ...overrides,
});

describe('test fixture', () => {
  it('uses an ID whose check character is X', () => {
    expect(ID18).toBe('44030319850307169X');
  });
});

describe('cleanCustomer: identifying hashes', () => {
  const core = cleanCustomer(raw(), KEY);
  const cardLowerX = cleanCustomer(
    raw({ source_system: 'card', customer_key: 'K-9', id_number: ID18.toLowerCase(), phone: '+86 138 0013 8000', birth_date: '1985/03/07', gender: '男' }),
    KEY,
  );
  const cardLegacy = cleanCustomer(
    raw({ source_system: 'card', customer_key: 'K-10', id_number: ID15, phone: '+86 138 0013 8000', birth_date: '1985/03/07', gender: '男' }),
    KEY,
  );
  const cardFullWidth = cleanCustomer(
    raw({ source_system: 'card', customer_key: 'K-12', id_number: ID18.replace(/[0-9X]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)), name: '张 三丰' }),
    KEY,
  );

  it('the same person written three ways has one ID hash, ID body hash, phone hash and name hash', () => {
    for (const c of [cardLowerX, cardLegacy, cardFullWidth]) {
      expect(c.id_hash).toBe(core.id_hash);
      expect(c.id_body_hash).toBe(core.id_body_hash);
      expect(c.name_hash).toBe(core.name_hash);
      expect(c.id_valid).toBe(true);
    }
    expect(cardLowerX.phone_hash).toBe(core.phone_hash);
    expect(cardLegacy.phone_hash).toBe(core.phone_hash);
  });

  it('normalises the attributes identically across systems', () => {
    for (const c of [cardLowerX, cardLegacy]) {
      expect(c.birth_date).toBe('1985-03-07');
      expect(c.gender).toBe('M');
      expect(c.phone_valid).toBe(true);
      expect(c.findings).toBeNull();
    }
  });

  it('keeps the source identity', () => {
    expect(cardLegacy.source_system).toBe('card');
    expect(cardLegacy.customer_key).toBe('K-10');
  });

  it('hashes are keyed hashes of the normalised values; seed_golden_id is G + 20 hex of the keyed source key', () => {
    expect(core.id_hash).toBe(keyedHash(KEY, `id|${ID18}`));
    expect(core.id_body_hash).toBe(keyedHash(KEY, `idbody|${FIRST17}`));
    expect(core.phone_hash).toBe(keyedHash(KEY, 'phone|+8613800138000'));
    expect(core.name_hash).toBe(keyedHash(KEY, 'name|张三丰'));
    expect(core.seed_golden_id).toBe(`G${keyedHash(KEY, 'golden|sk:core:C001').slice(0, 20)}`);
    expect(core.seed_golden_id).toBe(goldenIdFor(KEY, 'sk:core:C001'));
    expect(core.seed_golden_id).toMatch(/^G[0-9a-f]{20}$/);
  });

  it('is stable from run to run and depends on the PII key', () => {
    expect(cleanCustomer(raw(), KEY)).toEqual(core);
    const other = cleanCustomer(raw(), 'another-key');
    for (const k of ['seed_golden_id', 'id_hash', 'id_body_hash', 'phone_hash', 'name_hash'] as const) expect(other[k]).not.toBe(core[k]);
  });

  it('an invalid-checksum ID is not an identity, but its 17-digit body still is evidence', () => {
    const badCheck = cleanCustomer(raw({ id_number: `${FIRST17}5` }), KEY);
    expect(badCheck.id_valid).toBe(false);
    expect(badCheck.id_hash).toBeNull();
    expect(badCheck.id_body_hash).toBe(core.id_body_hash);
    expect(badCheck.findings).toBe('id_bad_checksum');
    const garbage = cleanCustomer(raw({ id_number: 'garbage' }), KEY);
    expect(garbage.id_body_hash).toBeNull();
    expect(garbage.findings).toBe('id_bad_format');
    expect(cleanCustomer(raw({ id_number: null }), KEY).findings).toBe('id_missing');
  });

  it('a landline has no phone hash and is a finding; an empty phone is not', () => {
    const landline = cleanCustomer(raw({ phone: '010-12345678' }), KEY);
    expect(landline.phone_valid).toBe(false);
    expect(landline.phone_hash).toBeNull();
    expect(landline.findings).toBe('phone_invalid');
    expect(cleanCustomer(raw({ phone: '' }), KEY).findings).toBeNull();
  });
});

describe('cleanCustomer: ID cross-check with the KYC fields', () => {
  it('a KYC birth date or gender that contradicts the valid ID is a finding, and the ID wins', () => {
    const c = cleanCustomer(raw({ birth_date: '1985-03-08', gender: '女' }), KEY);
    expect(c.findings).toBe('id_birth_date_mismatch,id_gender_mismatch');
    expect(c.birth_date).toBe('1985-03-07');
    expect(c.gender).toBe('M');
  });

  it('an unparseable KYC birth date is a finding, not a mismatch', () => {
    const c = cleanCustomer(raw({ birth_date: '2024-13-45' }), KEY);
    expect(c.findings).toBe('birth_date_unparsed');
    expect(c.birth_date).toBe('1985-03-07');
  });
});

describe('cleanCustomer: attributes', () => {
  it('takes birth date and gender from the ID when the KYC fields are missing or malformed', () => {
    const c = cleanCustomer(raw({ birth_date: 'unknown', gender: '?' }), KEY);
    expect(c.birth_date).toBe('1985-03-07');
    expect(c.gender).toBe('M');
    const f17 = '11010519491231002'; // 17th digit 2 → female
    const female = cleanCustomer(raw({ id_number: f17 + idCheckChar(f17), birth_date: null, gender: null }), KEY);
    expect(female.birth_date).toBe('1949-12-31');
    expect(female.gender).toBe('F');
  });

  it('leaves birth date and gender null without KYC values or a valid ID', () => {
    const c = cleanCustomer(raw({ id_number: 'garbage', birth_date: null, gender: null }), KEY);
    expect(c.birth_date).toBeNull();
    expect(c.gender).toBeNull();
  });

  it('masks the name, collapsing inner spaces and full-width characters', () => {
    expect(cleanCustomer(raw({ name: ' 张 三丰 ' }), KEY).name_masked).toBe('张**');
    expect(cleanCustomer(raw({ name: 'ＡＢＣ' }), KEY).name_masked).toBe('A**');
    expect(cleanCustomer(raw({ name: null }), KEY).name_masked).toBeNull();
  });

  it('city, tier, occupation and income', () => {
    const c = cleanCustomer(raw({ city: ' 上海市 ', occupation: ' teacher ', annual_income: 120000 }), KEY);
    expect(c.city).toBe('上海市');
    expect(c.city_tier).toBe(1);
    expect(c.occupation).toBe('teacher');
    expect(c.annual_income).toBe(120000);
    expect(cleanCustomer(raw({ annual_income: '250000.00' }), KEY).annual_income).toBe(250000);
    expect(cleanCustomer(raw({ annual_income: '' }), KEY).annual_income).toBeNull();
    expect(cleanCustomer(raw({ annual_income: null }), KEY).annual_income).toBeNull();
    expect(cleanCustomer(raw({ annual_income: 'n/a' }), KEY).annual_income).toBeNull();
    expect(cleanCustomer(raw({ city: '   ', occupation: '' }), KEY)).toMatchObject({ city: null, city_tier: null, occupation: null });
  });

  it('keeps no raw PII in the output object', () => {
    const c = cleanCustomer(raw(), KEY);
    const text = JSON.stringify(c);
    for (const secret of ['张三丰', '三丰', ID18, ID18.toLowerCase(), ID15, '13800138000']) expect(text).not.toContain(secret);
    expect(Object.keys(c).sort()).toEqual(
      [
        'source_system', 'customer_key', 'seed_golden_id', 'name_masked', 'name_hash', 'id_hash', 'id_body_hash', 'phone_hash', 'id_valid',
        'phone_valid', 'birth_date', 'gender', 'city', 'city_tier', 'occupation', 'annual_income', 'opened_at', 'findings',
      ].sort(),
    );
    expect(c.name_masked).toBe('张**');
    expect(c.id_hash).toMatch(/^[0-9a-f]{32}$/);
    expect(c.phone_hash).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('cityTier', () => {
  it.each([
    ['北京', 1],
    ['北京市', 1],
    ['深圳', 1],
    ['杭州', 2],
    ['重庆市', 2],
    ['宁波', 2],
    ['绍兴', 3],
    ['Springfield', 3],
  ])('%s → %i', (city, tier) => {
    expect(cityTier(city)).toBe(tier);
  });

  it('null or empty → null', () => {
    expect(cityTier(null)).toBeNull();
    expect(cityTier('')).toBeNull();
  });
});
