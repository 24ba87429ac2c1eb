import { cityTier, cleanCustomer, type RawCustomer } from '../../transforms/customerRecord';
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

describe('cleanCustomer: identity resolution', () => {
  const core = cleanCustomer(raw(), KEY);
  const cardLowerX = cleanCustomer(
    raw({ source_system: 'card', customer_key: 'K-9', id_number: ID18.toLowerCase(), phone: '+86 138 0013 8000', birth_date: '1985/03/07', gender: '男' }),
    KEY,
  );
  const cardLegacy = cleanCustomer(
    raw({ source_system: 'card', customer_key: 'K-10', id_number: ID15, phone: '+86 138 0013 8000', birth_date: '1985/03/07', gender: '男' }),
    KEY,
  );

  it('the same person written two ways resolves to one golden_id via the ID number', () => {
    expect(core.match_rule).toBe('id_number');
    expect(cardLowerX.match_rule).toBe('id_number');
    expect(cardLegacy.match_rule).toBe('id_number');
    expect(cardLowerX.golden_id).toBe(core.golden_id);
    expect(cardLegacy.golden_id).toBe(core.golden_id);
  });

  it('normalises the attributes identically across systems', () => {
    for (const c of [cardLowerX, cardLegacy]) {
      expect(c.id_hash).toBe(core.id_hash);
      expect(c.phone_hash).toBe(core.phone_hash);
      expect(c.birth_date).toBe('1985-03-07');
      expect(c.gender).toBe('M');
      expect(c.id_valid).toBe(true);
      expect(c.phone_valid).toBe(true);
    }
  });

  it('keeps the source identity', () => {
    expect(cardLegacy.source_system).toBe('card');
    expect(cardLegacy.customer_key).toBe('K-10');
  });

  it('golden_id is G + 20 hex characters of the keyed hash of the match key', () => {
    expect(core.golden_id).toBe(`G${keyedHash(KEY, `golden|id:${ID18}`).slice(0, 20)}`);
    expect(core.golden_id).toMatch(/^G[0-9a-f]{20}$/);
    expect(core.id_hash).toBe(keyedHash(KEY, `id|${ID18}`));
    expect(core.phone_hash).toBe(keyedHash(KEY, 'phone|+8613800138000'));
  });

  it('golden_id is stable from run to run and depends on the PII key', () => {
    expect(cleanCustomer(raw(), KEY)).toEqual(core);
    const other = cleanCustomer(raw(), 'another-key');
    expect(other.golden_id).not.toBe(core.golden_id);
    expect(other.id_hash).not.toBe(core.id_hash);
    expect(other.phone_hash).not.toBe(core.phone_hash);
  });

  it('a different valid ID is a different person even with the same phone and birth date', () => {
    const f17 = '44030319850307171';
    const other = cleanCustomer(raw({ id_number: f17 + idCheckChar(f17) }), KEY);
    expect(other.match_rule).toBe('id_number');
    expect(other.golden_id).not.toBe(core.golden_id);
  });

  it('an invalid-checksum ID falls back to phone + birth date', () => {
    const badCheck = `${FIRST17}5`;
    const a = cleanCustomer(raw({ id_number: badCheck }), KEY);
    const b = cleanCustomer(
      raw({ source_system: 'card', customer_key: 'K-11', id_number: null, phone: '+86 138-0013-8000', birth_date: '1985年3月7日', gender: '男' }),
      KEY,
    );
    expect(a.match_rule).toBe('phone_birth');
    expect(a.id_valid).toBe(false);
    expect(a.id_hash).toBeNull();
    expect(b.match_rule).toBe('phone_birth');
    expect(a.golden_id).toBe(b.golden_id);
    expect(a.golden_id).toBe(`G${keyedHash(KEY, 'golden|pb:+8613800138000|1985-03-07').slice(0, 20)}`);
  });

  it('phone + birth date: a different birth date is a different person', () => {
    const a = cleanCustomer(raw({ id_number: null }), KEY);
    const b = cleanCustomer(raw({ id_number: null, birth_date: '1985-03-08' }), KEY);
    expect(a.match_rule).toBe('phone_birth');
    expect(b.match_rule).toBe('phone_birth');
    expect(a.golden_id).not.toBe(b.golden_id);
  });

  it('no phone and no ID → source_key, unique per source record', () => {
    const a = cleanCustomer(raw({ id_number: null, phone: null }), KEY);
    const b = cleanCustomer(raw({ id_number: null, phone: null, customer_key: 'C002' }), KEY);
    const c = cleanCustomer(raw({ id_number: null, phone: null, source_system: 'card' }), KEY);
    expect(a.match_rule).toBe('source_key');
    expect(a.golden_id).toBe(`G${keyedHash(KEY, 'golden|sk:core:C001').slice(0, 20)}`);
    expect(new Set([a.golden_id, b.golden_id, c.golden_id]).size).toBe(3);
    expect(a.phone_hash).toBeNull();
    expect(a.phone_valid).toBe(false);
  });

  it('a landline or a phone without a birth date does not match on phone', () => {
    const landline = cleanCustomer(raw({ id_number: null, phone: '010-12345678' }), KEY);
    expect(landline.match_rule).toBe('source_key');
    expect(landline.phone_valid).toBe(false);
    expect(landline.phone_hash).toBeNull();
    const noBirth = cleanCustomer(raw({ id_number: null, birth_date: null }), KEY);
    expect(noBirth.match_rule).toBe('source_key');
    expect(noBirth.phone_valid).toBe(true);
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
        'source_system', 'customer_key', 'golden_id', 'match_rule', 'name_masked', 'id_hash', 'phone_hash', 'id_valid', 'phone_valid',
        'birth_date', 'gender', 'city', 'city_tier', 'occupation', 'annual_income', 'opened_at',
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
