import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { DEFAULT_DIRT, generateSourceExtracts, type GenerateSummary } from '../../generator/generate';
import { isValidIdNumber, normalizeIdNumber } from '../../transforms/idNumber';
import { normalizePhone, parseDate, parseTimestamp } from '../../transforms/normalize';

const N = 2000;
const SEED = 20261120;
const AS_OF = '2026-11-20';

// The contract the ingest stage depends on, written out literally so a change here is deliberate.
const CONTRACT: Record<string, string> = {
  'customers.csv':
    'source_system,customer_key,name,id_number,phone,birth_date,gender,city,occupation,annual_income,opened_at',
  'accounts.csv': 'account_id,customer_key,product,opened_at,maturity_date',
  'balances.csv': 'account_id,balance_date,balance',
  'loans.csv': 'loan_id,customer_key,product,principal,outstanding,overdue_days,opened_at',
  'transactions.csv': 'txn_id,account_id,customer_key,txn_ts,amount,direction,channel,category',
  'app_events.csv': 'event_id,customer_key,event_ts,event_type',
  'consent.csv': 'consent_id,customer_key,channel,granted,recorded_at',
  'campaign_contacts.csv':
    'contact_id,customer_key,campaign_id,product,channel,contacted_at,converted,converted_at,value',
  'complaints.csv': 'complaint_id,customer_key,complaint_ts,category,status',
  'ground_truth.csv': 'source_system,customer_key,person_id',
};

type Row = Record<string, string>;
const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
const read = (dir: string, file: string): Row[] =>
  parse(readFileSync(join(dir, file)), { columns: true, skip_empty_lines: false }) as Row[];

const CLEAN = { invalidIdChecksum: 0, malformedDate: 0, negativeAmount: 0, duplicateRow: 0 };

let root: string;
let dirA: string;
let dirB: string;
let dirClean: string;
let summaryA: GenerateSummary;
let summaryB: GenerateSummary;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'portrait-gen-'));
  dirA = join(root, 'a');
  dirB = join(root, 'b');
  dirClean = join(root, 'clean');
  summaryA = await generateSourceExtracts({ customers: N, seed: SEED, outDir: dirA, asOf: AS_OF });
  summaryB = await generateSourceExtracts({ customers: N, seed: SEED, outDir: dirB, asOf: AS_OF });
  await generateSourceExtracts({ customers: N, seed: SEED, outDir: dirClean, asOf: AS_OF, dirt: CLEAN });
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('determinism', () => {
  it('gives byte-identical files for the same options', () => {
    const files = readdirSync(dirA).sort();
    expect(files).toEqual([...Object.keys(CONTRACT), 'generate-summary.json'].sort());
    for (const f of files) expect(sha256(join(dirB, f))).toBe(sha256(join(dirA, f)));
    expect(summaryB).toEqual(summaryA);
  });

  it('reports the true row count, size and sha256 of each file', () => {
    for (const [f, stats] of Object.entries(summaryA.files)) {
      const bytes = readFileSync(join(dirA, f));
      expect(stats.sha256).toBe(sha256(join(dirA, f)));
      expect(stats.bytes).toBe(bytes.length);
      expect(stats.rows).toBe(bytes.toString('utf8').split('\n').length - 2); // header + trailing newline
    }
    expect(summaryA).toMatchObject({ customers: N, seed: SEED, asOf: AS_OF, dirt: DEFAULT_DIRT });
    expect(JSON.parse(readFileSync(join(dirA, 'generate-summary.json'), 'utf8'))).toEqual(summaryA);
  });

  it('changes with the seed', async () => {
    const other = await generateSourceExtracts({ customers: 50, seed: SEED + 1, outDir: join(root, 'seed2'), asOf: AS_OF });
    const same = await generateSourceExtracts({ customers: 50, seed: SEED, outDir: join(root, 'seed1'), asOf: AS_OF });
    expect(other.files['transactions.csv']!.sha256).not.toBe(same.files['transactions.csv']!.sha256);
  });

  it('does not let dirt rates shift the clean data (per-person streams are independent)', async () => {
    for (const f of ['balances.csv', 'app_events.csv', 'consent.csv', 'campaign_contacts.csv']) {
      expect(sha256(join(dirClean, f))).toBe(sha256(join(dirA, f)));
    }
  });

  it('does not depend on N for the customers it shares (prefix property)', async () => {
    const small = join(root, 'small');
    await generateSourceExtracts({ customers: 100, seed: SEED, outDir: small, asOf: AS_OF });
    const big = readFileSync(join(dirA, 'transactions.csv'), 'utf8');
    const head = readFileSync(join(small, 'transactions.csv'), 'utf8');
    expect(big.startsWith(head)).toBe(true);
  });
});

describe('file format', () => {
  it('keeps the column contract, UTF-8 without BOM, \\n line ends, same field count on every row', () => {
    for (const [f, header] of Object.entries(CONTRACT)) {
      const text = readFileSync(join(dirA, f), 'utf8');
      expect(text.charCodeAt(0)).not.toBe(0xfeff);
      expect(text).not.toContain('\r');
      expect(text.endsWith('\n')).toBe(true);
      expect(text.slice(0, text.indexOf('\n'))).toBe(header);
      const rows = parse(text, { relax_column_count: true }) as string[][];
      expect(rows.length).toBeGreaterThan(1);
      expect(rows.filter((r) => r.length !== header.split(',').length)).toEqual([]);
    }
  });

  it('writes header-only files for zero customers', async () => {
    const s = await generateSourceExtracts({ customers: 0, seed: 1, outDir: join(root, 'empty'), asOf: AS_OF });
    for (const [f, header] of Object.entries(CONTRACT)) {
      expect(s.files[f]!.rows).toBe(0);
      expect(readFileSync(join(root, 'empty', f), 'utf8')).toBe(`${header}\n`);
    }
  });

  it('rejects bad options with a message that names the problem', async () => {
    const outDir = join(root, 'bad');
    await expect(generateSourceExtracts({ customers: 10, seed: 1, outDir, asOf: '2026-02-30' })).rejects.toThrow(/asOf/);
    await expect(generateSourceExtracts({ customers: 10, seed: 1, outDir, asOf: '20261120' })).rejects.toThrow(/asOf/);
    await expect(generateSourceExtracts({ customers: -1, seed: 1, outDir, asOf: AS_OF })).rejects.toThrow(/customers/);
    await expect(generateSourceExtracts({ customers: 1.5, seed: 1, outDir, asOf: AS_OF })).rejects.toThrow(/customers/);
    await expect(
      generateSourceExtracts({ customers: 10, seed: 1, outDir, asOf: AS_OF, dirt: { duplicateRow: 2 } }),
    ).rejects.toThrow(/duplicateRow/);
  });
});

describe('customers and entity-resolution ground truth', () => {
  it('has one core record per person and cross-system card records near the configured rate', () => {
    const gt = read(dirA, 'ground_truth.csv');
    const core = gt.filter((r) => r.source_system === 'core');
    const card = gt.filter((r) => r.source_system === 'card');
    expect(core).toHaveLength(N);
    expect(new Set(core.map((r) => r.person_id)).size).toBe(N);
    expect(card.length / N).toBeGreaterThan(0.05);
    expect(card.length / N).toBeLessThan(0.11);
    expect(new Set(gt.map((r) => `${r.source_system}/${r.customer_key}`)).size).toBe(gt.length);
    for (const r of core) expect(r.customer_key).toMatch(/^C\d{8}$/);
    for (const r of card) expect(r.customer_key).toMatch(/^K\d{8}$/);
  });

  it('ground truth covers every customers.csv row, and every ground-truth key appears in customers.csv', () => {
    const gtKeys = new Set(read(dirA, 'ground_truth.csv').map((r) => `${r.source_system}/${r.customer_key}`));
    const customerKeys = new Set<string>();
    for (const r of read(dirA, 'customers.csv')) {
      const key = `${r.source_system}/${r.customer_key}`;
      expect(gtKeys.has(key)).toBe(true);
      customerKeys.add(key);
    }
    expect(customerKeys.size).toBe(gtKeys.size);
  });

  it('clean core rows carry valid IDs consistent with birth date and gender, valid phones and dates', () => {
    const rows = read(dirClean, 'customers.csv').filter((r) => r.source_system === 'core');
    expect(rows).toHaveLength(N);
    // Collect violations and assert once: per-row expect() calls are slow on thousands of rows.
    const violations = rows.filter(
      (r) =>
        !isValidIdNumber(r.id_number!) ||
        r.id_number!.slice(6, 14) !== r.birth_date!.replace(/-/g, '') ||
        (Number(r.id_number!.charAt(16)) % 2 === 1 ? 'M' : 'F') !== r.gender ||
        !/^1[3-9]\d{9}$/.test(r.phone!) ||
        parseDate(r.birth_date!) !== r.birth_date ||
        parseDate(r.opened_at!) !== r.opened_at ||
        r.opened_at! > AS_OF ||
        !(Number(r.annual_income) > 0) ||
        r.name!.length < 2,
    );
    expect(violations).toEqual([]);
    expect(new Set(rows.map((r) => r.phone)).size).toBe(N); // numbers are a bijection of the index
  });

  it('card records describe the same person in other formats that normalise back to the core values', () => {
    const gt = read(dirClean, 'ground_truth.csv');
    const personOf = new Map(gt.map((r) => [`${r.source_system}/${r.customer_key}`, r.person_id]));
    const rows = read(dirClean, 'customers.csv');
    const coreByPerson = new Map(rows.filter((r) => r.source_system === 'core').map((r) => [personOf.get(`core/${r.customer_key}`), r]));
    const cards = rows.filter((r) => r.source_system === 'card');
    let samePhone = 0;
    for (const card of cards) {
      const core = coreByPerson.get(personOf.get(`card/${card.customer_key}`))!;
      expect(card.name).toBe(core.name);
      expect(normalizeIdNumber(card.id_number).value).toBe(core.id_number);
      expect(parseDate(card.birth_date)).toBe(core.birth_date);
      expect(card.birth_date).not.toBe(core.birth_date);
      expect(card.gender).toBe(core.gender === 'M' ? '男' : '女');
      if (normalizePhone(card.phone) === `+86${core.phone}`) samePhone++;
    }
    expect(samePhone / cards.length).toBeGreaterThan(0.85);
    expect(cards.some((r) => /^\d{15}$/.test(r.id_number!))).toBe(true); // legacy IDs occur
    expect(cards.some((r) => / /.test(r.phone!))).toBe(true);
  });

  it('writes invalid ID checksums on core rows near the configured rate', async () => {
    const rate = 0.05;
    const dir = join(root, 'badids');
    await generateSourceExtracts({ customers: N, seed: SEED, outDir: dir, asOf: AS_OF, dirt: { ...CLEAN, invalidIdChecksum: rate } });
    const core = read(dir, 'customers.csv').filter((r) => r.source_system === 'core');
    const bad = core.filter((r) => normalizeIdNumber(r.id_number).error === 'bad_checksum').length;
    // Binomial(2000, 0.05): mean 100, sd ≈ 9.7; ±3.5 sd.
    expect(bad).toBeGreaterThan(66);
    expect(bad).toBeLessThan(134);
    // Every ID is otherwise well formed: only the check character is wrong.
    expect(core.filter((r) => !['bad_checksum', undefined].includes(normalizeIdNumber(r.id_number).error))).toEqual([]);

    const defaultCore = read(dirA, 'customers.csv').filter((r) => r.source_system === 'core');
    const defaultBad = defaultCore.filter((r) => !isValidIdNumber(r.id_number!)).length / defaultCore.length;
    expect(defaultBad).toBeGreaterThan(0.002);
    expect(defaultBad).toBeLessThan(0.025);
  });

  it('writes the other dirt kinds with default rates, and none when they are zero', () => {
    const text = readFileSync(join(dirA, 'transactions.csv'), 'utf8').split('\n');
    expect(text.length - new Set(text).size).toBeGreaterThan(0); // exact duplicate lines
    const txns = read(dirA, 'transactions.csv');
    expect(txns.some((r) => r.amount!.startsWith('-'))).toBe(true);
    const malformed = read(dirA, 'customers.csv').filter((r) => r.birth_date !== '' && parseDate(r.birth_date) === null);
    expect(malformed.length).toBeGreaterThan(0);

    const cleanText = readFileSync(join(dirClean, 'transactions.csv'), 'utf8').split('\n');
    expect(cleanText.length - new Set(cleanText).size).toBe(0);
    expect(read(dirClean, 'transactions.csv').some((r) => r.amount!.startsWith('-'))).toBe(false);
  });
});

describe('behavioural files', () => {
  const asOfEnd = '2026-11-20T23:59:59+08:00';

  it('transactions: 180-day window, positive 2-decimal amounts, valid enums, 20–40 per customer', () => {
    const txns = read(dirClean, 'transactions.csv');
    expect(txns.length / N).toBeGreaterThan(20);
    expect(txns.length / N).toBeLessThan(40);
    const channels = new Set(['counter', 'atm', 'mobile', 'online', 'pos']);
    const violations = txns.filter(
      (t) =>
        parseTimestamp(t.txn_ts!) !== t.txn_ts ||
        t.txn_ts! < '2026-05-25T00:00:00+08:00' || // asOf - 179 days
        t.txn_ts! > asOfEnd ||
        !/^\d+\.\d{2}$/.test(t.amount!) ||
        !(Number(t.amount) > 0) ||
        (t.direction !== 'credit' && t.direction !== 'debit') ||
        !channels.has(t.channel!) ||
        (t.category === 'salary' && t.direction !== 'credit'),
    );
    expect(violations).toEqual([]);
    const categories = new Set(txns.map((t) => t.category));
    const salaryCredits = txns.filter((t) => t.category === 'salary').length;
    expect([...categories].sort()).toEqual(
      ['dining', 'investment', 'loan_repayment', 'other', 'salary', 'shopping', 'transfer', 'utilities'].sort(),
    );
    expect(salaryCredits).toBeGreaterThan(N); // monthly salary for the employed
  });

  it('accounts and balances: demand/time products, 7 snapshot dates, maturity only for time deposits', () => {
    const accounts = read(dirClean, 'accounts.csv');
    const violations = accounts.filter(
      (a) =>
        !/^C\d{8}$/.test(a.customer_key!) ||
        (a.product === 'demand' ? a.maturity_date !== '' : a.product !== 'time' || parseDate(a.maturity_date!) !== a.maturity_date),
    );
    expect(violations).toEqual([]);
    expect(accounts.some((a) => a.product === 'time')).toBe(true);
    const dates = new Set(read(dirClean, 'balances.csv').map((b) => b.balance_date));
    expect([...dates].sort()).toEqual([
      '2026-05-31', '2026-06-30', '2026-07-31', '2026-08-31', '2026-09-30', '2026-10-31', '2026-11-20',
    ]);
  });

  it('loans: about 30% of customers hold one, overdue mostly 0 and at most 180 days', () => {
    const loans = read(dirClean, 'loans.csv');
    const holders = new Set(loans.map((l) => l.customer_key)).size / N;
    expect(holders).toBeGreaterThan(0.2);
    expect(holders).toBeLessThan(0.4);
    const overdue = loans.map((l) => Number(l.overdue_days));
    expect(overdue.filter((d) => d === 0).length / loans.length).toBeGreaterThan(0.9);
    expect(Math.max(...overdue)).toBeLessThanOrEqual(180);
    const products = ['consumer_loan', 'mortgage', 'credit_card', 'business_loan'];
    expect(loans.filter((l) => !products.includes(l.product!) || Number(l.outstanding) > Number(l.principal))).toEqual([]);
  });

  it('consent: every customer has a record per channel, Y/N, none after asOf', () => {
    const consent = read(dirClean, 'consent.csv');
    const pairs = new Set(consent.map((c) => `${c.customer_key}/${c.channel}`));
    expect(pairs.size).toBe(N * 5);
    expect(consent.length).toBeGreaterThan(N * 5); // later opt-outs / opt-ins
    expect(consent.filter((c) => (c.granted !== 'Y' && c.granted !== 'N') || c.recorded_at! > asOfEnd)).toEqual([]);
  });

  it('campaign contacts: 12-month window, consistent conversion fields, some in the last 7 days', () => {
    const contacts = read(dirA, 'campaign_contacts.csv');
    const violations = contacts.filter((c) => {
      if (c.contacted_at! < '2025-12-01T00:00:00+08:00' || c.contacted_at! > asOfEnd) return true;
      if (!['consumer_loan', 'credit_card'].includes(c.product!)) return true;
      if (c.converted === '0') return c.converted_at !== '' || c.value !== '';
      if (c.converted !== '1') return true;
      const lagDays = (Date.parse(c.converted_at!) - Date.parse(c.contacted_at!)) / 86_400_000;
      return !(lagDays > 0 && lagDays <= 31) || c.converted_at! > asOfEnd || !(Number(c.value) > 0);
    });
    expect(violations).toEqual([]);
    expect(contacts.filter((c) => c.contacted_at! >= '2026-11-14').length).toBeGreaterThan(0);
  });

  it('converts between 5% and 15% of contacts', () => {
    const contacts = read(dirA, 'campaign_contacts.csv');
    expect(contacts.length).toBeGreaterThan(N / 2);
    const rate = contacts.filter((c) => c.converted === '1').length / contacts.length;
    expect(rate).toBeGreaterThan(0.05);
    expect(rate).toBeLessThan(0.15);
  });

  it('makes conversion learnable: it rises with recent loan-intent app events', () => {
    const intent = new Map<string, number>();
    for (const e of read(dirA, 'app_events.csv')) {
      if (e.event_type === 'login' || e.event_ts! < '2026-10-22') continue; // last 30 days
      intent.set(e.customer_key!, (intent.get(e.customer_key!) ?? 0) + 1);
    }
    const contacts = read(dirA, 'campaign_contacts.csv');
    const rate = (rows: Row[]): number => rows.filter((c) => c.converted === '1').length / rows.length;
    const withIntent = contacts.filter((c) => intent.has(c.customer_key!));
    const without = contacts.filter((c) => !intent.has(c.customer_key!));
    expect(withIntent.length).toBeGreaterThan(100);
    expect(rate(withIntent)).toBeGreaterThan(1.8 * rate(without));

    // Point-biserial correlation between log(1 + intent events) and conversion.
    const xs = contacts.map((c) => Math.log1p(intent.get(c.customer_key!) ?? 0));
    const ys = contacts.map((c) => (c.converted === '1' ? 1 : 0));
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    const mx = mean(xs);
    const my = mean(ys);
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < xs.length; i++) {
      sxy += (xs[i]! - mx) * (ys[i]! - my);
      sxx += (xs[i]! - mx) ** 2;
      syy += (ys[i]! - my) ** 2;
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeGreaterThan(0.15);
  });

  it('app events: last 90 days, only the four known types', () => {
    const events = read(dirA, 'app_events.csv');
    const types = ['login', 'loan_product_view', 'loan_calculator', 'loan_application_start'];
    expect(
      events.filter((e) => e.event_ts! < '2026-08-23T00:00:00+08:00' || e.event_ts! > asOfEnd || !types.includes(e.event_type!)),
    ).toEqual([]);
    expect(new Set(events.map((e) => e.event_type)).size).toBe(4);
  });
});

describe('follow-up extract (a later date of the same bank)', () => {
  const LATER = '2026-12-20';
  let dirFollow: string;
  let dirFollowAgain: string;
  let contacted: string[];

  beforeAll(async () => {
    dirFollow = join(root, 'follow');
    dirFollowAgain = join(root, 'follow-again');
    // Half of the core customers contacted about each product on the base date.
    const keys = read(dirA, 'customers.csv').filter((c) => c.source_system === 'core').map((c) => c.customer_key);
    contacted = [...new Set(keys)].filter((_, i) => i % 2 === 0);
    const contacts = contacted.flatMap((customerKey) => ['consumer_loan', 'credit_card'].map((product) => ({ customerKey, product, contactedOn: AS_OF })));
    await generateSourceExtracts({ customers: N, seed: SEED, outDir: dirFollow, asOf: LATER, followUp: { baseAsOf: AS_OF, contacts } });
    await generateSourceExtracts({ customers: N, seed: SEED, outDir: dirFollowAgain, asOf: LATER, followUp: { baseAsOf: AS_OF, contacts } });
  });

  it('keeps every file of the base date; loans, balances, transactions and app events only gain rows dated after it', () => {
    const growing = ['loans.csv', 'balances.csv', 'transactions.csv', 'app_events.csv'];
    for (const file of Object.keys(CONTRACT)) {
      if (growing.includes(file)) continue;
      expect(`${file} ${sha256(join(dirFollow, file))}`).toBe(`${file} ${sha256(join(dirA, file))}`);
    }
    for (const file of growing) {
      const base = readFileSync(join(dirA, file), 'utf8').split('\n').filter(Boolean);
      const later = readFileSync(join(dirFollow, file), 'utf8').split('\n').filter(Boolean);
      const laterSet = new Set(later);
      expect(`${file}: ${base.filter((l) => !laterSet.has(l)).length} base rows lost`).toBe(`${file}: 0 base rows lost`);
      expect(later.length).toBeGreaterThan(base.length);
      expect(sha256(join(dirFollow, file))).toBe(sha256(join(dirFollowAgain, file)));
    }
    // As fresh as a real later extract: the newest balance is on the later date, activity runs past the base date.
    const newest = (file: string, column: string) => read(dirFollow, file).map((r) => r[column]!.slice(0, 10)).sort().pop();
    expect(newest('balances.csv', 'balance_date')).toBe(LATER);
    expect(newest('transactions.csv', 'txn_ts')! > AS_OF).toBe(true);
    expect(newest('app_events.csv', 'event_ts')! > AS_OF).toBe(true);
  });

  it('new products open after the base date and by the later date, more often among contacted customers', () => {
    const baseIds = new Set(read(dirA, 'loans.csv').map((l) => l.loan_id));
    const opened = read(dirFollow, 'loans.csv').filter((l) => !baseIds.has(l.loan_id));
    for (const l of opened) {
      expect(l.opened_at > AS_OF && l.opened_at <= LATER).toBe(true);
      expect(['consumer_loan', 'credit_card']).toContain(l.product);
    }
    const contactedSet = new Set(contacted);
    const core = [...new Set(read(dirA, 'customers.csv').filter((c) => c.source_system === 'core').map((c) => c.customer_key))];
    const rate = (keys: string[]) => opened.filter((l) => keys.includes(l.customer_key)).length / keys.length;
    const treated = rate(core.filter((k) => contactedSet.has(k)));
    const untreated = rate(core.filter((k) => !contactedSet.has(k)));
    expect(untreated).toBeGreaterThan(0);
    expect(treated).toBeGreaterThan(untreated * 1.5);
  });

  it('rejects a base date that is not before the later date', async () => {
    await expect(generateSourceExtracts({ customers: 1, seed: SEED, outDir: join(root, 'bad'), asOf: AS_OF, followUp: { baseAsOf: AS_OF } })).rejects.toThrow(/followUp.baseAsOf/);
  });
});
