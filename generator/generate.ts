/**
 * Seeded synthetic source extracts for Portrait: the CSV files a bank's core, card, app, consent and
 * campaign systems would hand over for one as-of date, with realistic dirt at configurable rates.
 *
 * Streaming: customers are generated one at a time from their own sub-RNG (deriveSeed(seed, index)) and
 * written through buffered sinks that respect backpressure, so memory stays bounded for any N and the
 * output is byte-identical for the same options. No clock: every date derives from asOf.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { idCheckChar } from '../transforms/idNumber';
import { parseDate } from '../transforms/normalize';
import { createRng, deriveSeed, hash128, type Rng } from '../transforms/random';
import {
  civilFromDay,
  dayFromCivil,
  DayFormatter,
  IndexSampler,
  monthEnd,
  monthStart,
  spendingWeight,
} from './calendar';
import { CsvSink, csvField, type CsvFileStats } from './csvWriter';
import {
  CITIES,
  CITY_WEIGHTS,
  type City,
  GIVEN_FEMALE,
  GIVEN_MALE,
  INCOME,
  MALFORMED_DATES,
  MOBILE_PREFIXES,
  NEW_MOBILE_PREFIXES,
  type Occupation,
  occupationsForAge,
  SALARIED,
  SURNAME_WEIGHTS,
  SURNAMES,
  TIER_INCOME,
} from './vocabulary';

export interface DirtRates {
  /** Share of persons who also have a differently formatted 'card' customer record. */
  crossSystemDuplicate: number;
  /** Share of customers.csv rows whose 18-digit ID has a wrong check character. */
  invalidIdChecksum: number;
  /** Share of values in date columns replaced by a malformed date ('2024-13-45', '31/02/2024', 'N/A', …). */
  malformedDate: number;
  /** Share of transactions written with a negative amount. */
  negativeAmount: number;
  /** Share of customers/transactions lines written twice in a row. */
  duplicateRow: number;
}

export const DEFAULT_DIRT: DirtRates = {
  crossSystemDuplicate: 0.08,
  invalidIdChecksum: 0.01,
  malformedDate: 0.005,
  negativeAmount: 0.002,
  duplicateRow: 0.003,
};

export interface GenerateOptions {
  customers: number;
  seed: number;
  outDir: string;
  /** YYYY-MM-DD, the extract date: nothing is dated after it. */
  asOf: string;
  dirt?: Partial<DirtRates>;
  /**
   * A later extract of the same bank: every person and every row of the extract for followUp.baseAsOf, plus the
   * consumer loans and credit cards opened in (baseAsOf, asOf] and everyday activity since (balances on asOf,
   * salary, spending, app logins). Customers contacted about a product open it more.
   */
  followUp?: FollowUpOptions;
}

/** A contact made by a channel system about a product (the response model of the follow-up extract). */
export interface ChannelContact {
  customerKey: string;
  product: string;
  /** YYYY-MM-DD */
  contactedOn: string;
}

export interface FollowUpOptions {
  baseAsOf: string;
  contacts?: readonly ChannelContact[];
}

export interface GenerateSummary {
  customers: number;
  seed: number;
  asOf: string;
  /** Set for a follow-up extract: the date whose persons and rows it extends. */
  baseAsOf?: string;
  /** Per file name: data rows (header excluded, duplicated lines counted), bytes and sha256 of the file. */
  files: Record<string, { rows: number; bytes: number; sha256: string }>;
  dirt: DirtRates;
}

/** Column contract of every file (the ingest stage depends on these names and this order). */
export const FILE_COLUMNS = {
  'customers.csv': [
    'source_system', 'customer_key', 'name', 'id_number', 'phone', 'birth_date', 'gender', 'city', 'occupation',
    'annual_income', 'opened_at',
  ],
  'accounts.csv': ['account_id', 'customer_key', 'product', 'opened_at', 'maturity_date'],
  'balances.csv': ['account_id', 'balance_date', 'balance'],
  'loans.csv': ['loan_id', 'customer_key', 'product', 'principal', 'outstanding', 'overdue_days', 'opened_at'],
  'transactions.csv': ['txn_id', 'account_id', 'customer_key', 'txn_ts', 'amount', 'direction', 'channel', 'category'],
  'app_events.csv': ['event_id', 'customer_key', 'event_ts', 'event_type'],
  'consent.csv': ['consent_id', 'customer_key', 'channel', 'granted', 'recorded_at'],
  'campaign_contacts.csv': [
    'contact_id', 'customer_key', 'campaign_id', 'product', 'channel', 'contacted_at', 'converted', 'converted_at',
    'value',
  ],
  'complaints.csv': ['complaint_id', 'customer_key', 'complaint_ts', 'category', 'status'],
  'ground_truth.csv': ['source_system', 'customer_key', 'person_id'],
} as const satisfies Record<string, readonly string[]>;

export type GeneratedFile = keyof typeof FILE_COLUMNS;
export const SUMMARY_FILE = 'generate-summary.json';

/** Days of transactions (up to and including asOf), app events, and the campaign look-back in months. */
const TXN_WINDOW_DAYS = 180;
const APP_WINDOW_DAYS = 90;
const INTENT_WINDOW_DAYS = 30;
const CAMPAIGN_MONTHS = 12;
/** Intercept of the hidden conversion logit, calibrated for ≈10% conversion over all contacts. */
const CONVERSION_INTERCEPT = -3.65;

const CONSENT_CHANNELS = ['sms', 'app_push', 'wechat', 'call', 'email'] as const;
type ConsentChannel = (typeof CONSENT_CHANNELS)[number];
const CONSENT_BASE: Readonly<Record<ConsentChannel, number>> = { sms: 0.9, app_push: 0.6, wechat: 0.5, call: 0.7, email: 0.45 };
const CHANNEL_LIFT: Readonly<Record<ConsentChannel, number>> = { sms: 0, app_push: 0.15, wechat: 0.1, call: 0.3, email: -0.3 };

// Hour-of-day profiles (index = hour, China time).
const SPEND_HOURS = [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 1.2, 1.0, 1.2, 1.6, 2.2, 1.8, 1.2, 1.1, 1.2, 1.5, 2.0, 2.2, 1.8, 1.3, 0.8, 0.4];
const APP_HOURS = [0.3, 0.15, 0.1, 0.05, 0.05, 0.1, 0.4, 1.0, 1.4, 1.2, 1.0, 1.0, 1.4, 1.2, 1.0, 1.0, 1.0, 1.1, 1.3, 1.6, 1.9, 2.1, 1.8, 0.9];

interface Context {
  seed: number;
  asOfDay: number;
  dirt: DirtRates;
  fmt: DayFormatter;
  txnStart: number;
  spendDays: IndexSampler;
  spendHours: IndexSampler;
  appHours: IndexSampler;
  /** Months overlapping the transaction window, oldest first: [first day, last day]. */
  txnMonths: Array<[number, number]>;
  /** Six month-ends before asOf, then asOf. */
  snapshotDays: number[];
  /** Seed-dependent offsets so keys and phone numbers are bijections of the customer index. */
  cardKeyOffset: number;
  phoneOffset: number;
  /** Follow-up extract only: the later date and the contacts per customer key. */
  followUp?: { untilDay: number; contacts: Map<string, Array<{ product: string; day: number }>> };
}

type Sinks = Record<GeneratedFile, CsvSink>;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const money = (x: number): string => (Math.round(x * 100) / 100).toFixed(2);
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);

function resolveDirt(partial: Partial<DirtRates> | undefined): DirtRates {
  const dirt: DirtRates = { ...DEFAULT_DIRT };
  for (const [name, value] of Object.entries(partial ?? {})) {
    if (!(name in DEFAULT_DIRT)) {
      throw new RangeError(`Unknown dirt rate "${name}"; expected one of ${Object.keys(DEFAULT_DIRT).join(', ')}`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
      throw new RangeError(`Dirt rate ${name} must be a number between 0 and 1, got ${String(value)}`);
    }
    dirt[name as keyof DirtRates] = value;
  }
  return dirt;
}

function makeContext(seed: number, asOf: string, dirt: DirtRates): Context {
  const asOfDay = dayFromCivil(Number(asOf.slice(0, 4)), Number(asOf.slice(5, 7)), Number(asOf.slice(8, 10)));
  const txnStart = asOfDay - TXN_WINDOW_DAYS + 1;
  const weights: number[] = [];
  for (let d = txnStart; d <= asOfDay; d++) weights.push(spendingWeight(d));
  const txnMonths: Array<[number, number]> = [];
  for (let k = 7; k >= 0; k--) {
    const start = monthStart(asOfDay, k);
    const end = monthEnd(start);
    if (end >= txnStart) txnMonths.push([start, end]);
  }
  const snapshotDays: number[] = [];
  for (let k = 6; k >= 1; k--) snapshotDays.push(monthEnd(monthStart(asOfDay, k)));
  snapshotDays.push(asOfDay);
  const h = hash128(`portrait-keys/${seed}`);
  return {
    seed,
    asOfDay,
    dirt,
    fmt: new DayFormatter(),
    txnStart,
    spendDays: new IndexSampler(weights),
    spendHours: new IndexSampler(SPEND_HOURS),
    appHours: new IndexSampler(APP_HOURS),
    txnMonths,
    snapshotDays,
    cardKeyOffset: h[0] % 100_000_000,
    phoneOffset: h[1] % 100_000_000,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One person

interface Person {
  index: number;
  personId: string;
  coreKey: string;
  gender: 'M' | 'F';
  birthDay: number;
  age: number;
  name: string;
  id18: string;
  phone: string;
  city: City;
  occupation: Occupation;
  salaried: boolean;
  income: number;
  openedDay: number;
  /** Uses the mobile app at all, and how much (logins per 90 days). */
  appUser: boolean;
  /** Hidden loan need (standard normal); shows only through app intent events. */
  loanNeed: number;
}

const AGE_BANDS: ReadonlyArray<readonly [number, number]> = [[18, 24], [25, 34], [35, 44], [45, 54], [55, 64], [65, 80]];
const AGE_BAND_W = [10, 22, 22, 19, 14, 13];

function ageOn(birthDay: number, day: number): number {
  const [by, bm, bd] = civilFromDay(birthDay);
  const [y, m, d] = civilFromDay(day);
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

function makePerson(r: Rng, index: number, ctx: Context): Person {
  const gender: 'M' | 'F' = r.bernoulli(0.5) ? 'M' : 'F';
  const band = r.weighted(AGE_BANDS, AGE_BAND_W);
  const ageTarget = r.int(band[0], band[1]);
  const birthDay = ctx.asOfDay - Math.floor(ageTarget * 365.2425) - r.int(0, 364);
  const age = ageOn(birthDay, ctx.asOfDay);

  const surname = r.weighted(SURNAMES, SURNAME_WEIGHTS);
  const pool = gender === 'M' ? GIVEN_MALE : GIVEN_FEMALE;
  const given = r.bernoulli(0.3) ? r.pick(pool) : r.pick(pool) + r.pick(pool);

  const city = r.weighted(CITIES, CITY_WEIGHTS);
  // Most people hold an ID issued where they live; a quarter moved from elsewhere.
  const idCity = r.bernoulli(0.75) ? city : r.weighted(CITIES, CITY_WEIGHTS);
  const area = r.pick(idCity.areaCodes);
  const seq = r.int(0, 499) * 2 + (gender === 'M' ? 1 : 0);
  const first17 = `${area}${ctx.fmt.compact(birthDay)}${pad(seq, 3)}`;
  const id18 = first17 + idCheckChar(first17);

  // A bijection of the index keeps numbers unique among the first 10^8 customers.
  const suffix = (index * 73_939_133 + ctx.phoneOffset) % 100_000_000;
  const phone = r.pick(MOBILE_PREFIXES) + pad(suffix, 8);

  const [choices, weights] = occupationsForAge(age);
  const occupation = r.weighted(choices, weights);
  const inc = INCOME[occupation];
  const income = Math.max(1200, Math.round((r.logNormal(Math.log(inc.median), inc.sigma) * TIER_INCOME[city.tier]) / 100) * 100);

  // Customer since: up to 20 years back, not before age 16, at least a week before asOf.
  const earliest = Math.max(birthDay + Math.ceil(16 * 365.2425), ctx.asOfDay - 20 * 365);
  const latest = ctx.asOfDay - 7;
  const openedDay = earliest >= latest ? latest : latest - Math.floor(Math.pow(r.next(), 1.3) * (latest - earliest));

  const appShare = age < 35 ? 0.9 : age < 50 ? 0.75 : age < 60 ? 0.5 : 0.25;
  return {
    index,
    personId: `P${pad(index + 1, 8)}`,
    coreKey: `C${pad(index + 1, 8)}`,
    gender,
    birthDay,
    age,
    name: surname + given,
    id18,
    phone,
    city,
    occupation,
    salaried: SALARIED.has(occupation),
    income,
    openedDay,
    appUser: r.bernoulli(appShare),
    loanNeed: r.normal(0, 1),
  };
}

/** Dirt decisions come from their own stream so changing a rate does not shift the person's other draws. */
class Dirt {
  constructor(
    private readonly d: Rng,
    readonly rates: DirtRates,
  ) {}

  date(value: string): string {
    return this.d.bernoulli(this.rates.malformedDate) ? this.d.pick(MALFORMED_DATES) : value;
  }

  idChecksum(id18: string): string {
    if (!this.d.bernoulli(this.rates.invalidIdChecksum)) return id18;
    const good = id18.charAt(17);
    const wrong = '10X98765432'.replace(good, '');
    return id18.slice(0, 17) + wrong.charAt(this.d.int(0, wrong.length - 1));
  }

  duplicate(): boolean {
    return this.d.bernoulli(this.rates.duplicateRow);
  }

  negative(): boolean {
    return this.d.bernoulli(this.rates.negativeAmount);
  }

  crossSystem(): boolean {
    return this.d.bernoulli(this.rates.crossSystemDuplicate);
  }
}

function fullWidth(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += String.fromCharCode(s.charCodeAt(i) + 0xfee0);
  return out;
}

function writeCustomerLine(sinks: Sinks, dirt: Dirt, line: string): void {
  sinks['customers.csv'].line(line);
  if (dirt.duplicate()) sinks['customers.csv'].line(line);
}

function writeCustomers(p: Person, ctx: Context, dirt: Dirt, sinks: Sinks): void {
  const fmt = ctx.fmt;
  const core = [
    'core',
    p.coreKey,
    csvField(p.name),
    dirt.idChecksum(p.id18),
    p.phone,
    dirt.date(fmt.iso(p.birthDay)),
    p.gender,
    csvField(p.city.name),
    csvField(p.occupation),
    String(p.income),
    dirt.date(fmt.iso(p.openedDay)),
  ].join(',');
  writeCustomerLine(sinks, dirt, core);
  sinks['ground_truth.csv'].line(`core,${p.coreKey},${p.personId}`);

  if (!dirt.crossSystem()) return;
  // Card-record draws use their own stream too, so the rest of the person does not depend on the dirt rates.
  const c = createRng(deriveSeed(ctx.seed, p.index, 'card'));
  // The card system's own key numbering: another bijection of the index.
  const cardKey = `K${pad((p.index * 48_271 + ctx.cardKeyOffset) % 100_000_000, 8)}`;
  let id = dirt.idChecksum(p.id18);
  const birthYear = Number(fmt.compact(p.birthDay).slice(0, 4));
  const idStyle = c.next();
  if (id.endsWith('X') && idStyle < 0.6) id = `${id.slice(0, 17)}x`;
  else if (birthYear <= 1985 && idStyle < 0.35) id = id.slice(0, 6) + id.slice(8, 17); // 15-digit legacy form
  else if (idStyle > 0.85) id = fullWidth(id);

  let phone: string;
  const phoneStyle = c.next();
  const m = p.phone;
  if (phoneStyle < 0.05) phone = c.pick(NEW_MOBILE_PREFIXES) + pad(c.int(0, 99_999_999), 8); // changed number
  else if (phoneStyle < 0.08) phone = '';
  else if (phoneStyle < 0.38) phone = `${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`;
  else if (phoneStyle < 0.68) phone = `+86-${m.slice(0, 3)}-${m.slice(3, 7)}-${m.slice(7)}`;
  else if (phoneStyle < 0.9) phone = `0086 ${m}`;
  else phone = m;

  const slashes = c.bernoulli(0.5);
  const cardDate = (day: number): string => (slashes ? fmt.iso(day).replace(/-/g, '/') : fmt.compact(day));
  const cardOpened = p.openedDay + Math.floor(c.next() * (ctx.asOfDay - 1 - p.openedDay));
  const statedIncome = c.bernoulli(0.3) ? '' : String(Math.round((p.income * (0.8 + 0.5 * c.next())) / 1000) * 1000);
  const card = [
    'card',
    cardKey,
    csvField(p.name),
    id,
    phone,
    dirt.date(cardDate(p.birthDay)),
    p.gender === 'M' ? '男' : '女',
    csvField(c.bernoulli(0.4) ? `${p.city.name}市` : p.city.name),
    c.bernoulli(0.4) ? '' : csvField(p.occupation),
    statedIncome,
    dirt.date(cardDate(cardOpened)),
  ].join(',');
  writeCustomerLine(sinks, dirt, card);
  sinks['ground_truth.csv'].line(`card,${cardKey},${p.personId}`);
}

interface DepositFacts {
  demandAccounts: string[];
  /** Opening day of each demand account (same order). */
  demandOpened: number[];
  /** Sum of all balances on asOf. */
  depositAsOf: number;
  /** Balance of each demand account on asOf (same order; 0 when opened later). */
  demandBalanceAsOf: number[];
}

const TERM_MONTHS = [3, 6, 12, 24, 36, 60];
const TERM_W = [1, 2, 4, 3, 2, 1];

function writeAccounts(r: Rng, p: Person, ctx: Context, dirt: Dirt, sinks: Sinks): DepositFacts {
  const fmt = ctx.fmt;
  const savingsRatio = p.occupation === '退休' ? 2.0 : p.occupation === '学生' ? 0.8 : 0.5;
  const wealth = r.logNormal(Math.log(p.income * savingsRatio), 1.0);
  const nDemand = 1 + (r.bernoulli(0.35) ? 1 : 0) + (r.bernoulli(0.1) ? 1 : 0);
  const nTime = wealth > 30_000 ? Math.min(4, r.poisson(p.age >= 50 ? 1.5 : 0.8)) : r.bernoulli(0.1) ? 1 : 0;
  const demandShare = nTime > 0 ? 0.3 + 0.3 * r.next() : 1;
  const churner = r.bernoulli(0.05); // moving money out: sharp declines in the last snapshots
  const dropFrom = r.int(4, 5);
  const drift = r.normal(0.003, 0.03);
  const snaps = ctx.snapshotDays;
  const last = snaps.length - 1;
  let depositAsOf = 0;
  const demandAccounts: string[] = [];
  const demandOpened: number[] = [];
  const demandBalanceAsOf: number[] = [];
  let j = 0;

  for (let k = 0; k < nDemand; k++, j++) {
    const accountId = `A${p.coreKey.slice(1)}${pad(j, 2)}`;
    demandAccounts.push(accountId);
    const opened = k === 0 ? p.openedDay : p.openedDay + Math.floor(r.next() * (ctx.asOfDay - p.openedDay));
    demandOpened.push(opened);
    demandBalanceAsOf.push(0);
    sinks['accounts.csv'].line(`${accountId},${p.coreKey},demand,${dirt.date(fmt.iso(opened))},`);
    let level = (wealth * demandShare * (k === 0 ? 0.7 : 0.3 / (nDemand - 1 || 1))) / Math.exp(drift * last);
    for (let s = 0; s <= last; s++) {
      if (s > 0) level *= Math.exp(drift + r.normal(0, 0.1));
      if (churner && s >= dropFrom) level *= 0.25 + 0.35 * r.next();
      const day = snaps[s] as number;
      if (day < opened) continue;
      const balance = Math.max(0, level);
      if (s === last) {
        depositAsOf += balance;
        demandBalanceAsOf[k] = balance;
      }
      sinks['balances.csv'].line(`${accountId},${fmt.iso(day)},${money(balance)}`);
    }
  }

  const timeTotal = wealth * (1 - demandShare);
  for (let k = 0; k < nTime; k++, j++) {
    const accountId = `A${p.coreKey.slice(1)}${pad(j, 2)}`;
    const termMonths = r.weighted(TERM_MONTHS, TERM_W);
    const termDays = Math.round(termMonths * 30.44);
    const opened = Math.max(p.openedDay, ctx.asOfDay - Math.floor(r.next() * termDays * 1.2));
    const maturity = opened + termDays;
    const principal = Math.max(1000, Math.round(((timeTotal / nTime) * (0.5 + r.next())) / 1000) * 1000);
    sinks['accounts.csv'].line(
      `${accountId},${p.coreKey},time,${dirt.date(fmt.iso(opened))},${dirt.date(fmt.iso(maturity))}`,
    );
    for (let s = 0; s <= last; s++) {
      const day = snaps[s] as number;
      if (day < opened) continue;
      // 2% simple interest while running; paid out (balance 0) from maturity on.
      const balance = day >= maturity ? 0 : principal * (1 + (0.02 * (day - opened)) / 365);
      if (s === last) depositAsOf += balance;
      sinks['balances.csv'].line(`${accountId},${fmt.iso(day)},${money(balance)}`);
    }
  }
  return { demandAccounts, demandOpened, depositAsOf, demandBalanceAsOf };
}

interface LoanFacts {
  hasActiveConsumerLoan: boolean;
  hasCreditCard: boolean;
  maxOverdueDays: number;
  /** Monthly repayments debited from the main account: [day of month, amount, first possible day]. */
  repayments: Array<[number, number, number]>;
}

function writeLoans(r: Rng, p: Person, ctx: Context, dirt: Dirt, sinks: Sinks): LoanFacts {
  const fmt = ctx.fmt;
  const facts: LoanFacts = { hasActiveConsumerLoan: false, hasCreditCard: false, maxOverdueDays: 0, repayments: [] };
  const prime = p.age >= 22 && p.age <= 55;
  const incomeFactor = clamp(Math.sqrt(p.income / 90_000), 0.4, 1.8);
  const held: Array<'credit_card' | 'mortgage' | 'consumer_loan' | 'business_loan'> = [];
  if (p.occupation !== '学生' && r.bernoulli((prime ? 0.23 : 0.08) * incomeFactor)) held.push('credit_card');
  if (p.age >= 28 && p.age <= 58 && r.bernoulli(p.income > 100_000 ? 0.12 : 0.05)) held.push('mortgage');
  if (p.age >= 22 && p.age <= 60 && r.bernoulli(0.07)) held.push('consumer_loan');
  if (r.bernoulli(p.occupation === '个体户' ? 0.25 : 0.005)) held.push('business_loan');
  const riskyBorrower = r.bernoulli(p.income < 60_000 ? 0.08 : 0.03);

  held.forEach((product, k) => {
    const loanId = `L${p.coreKey.slice(1)}${pad(k, 2)}`;
    let principal: number;
    let termDays: number;
    let opened: number;
    switch (product) {
      case 'credit_card':
        principal = Math.round(r.logNormal(Math.log(30_000 * incomeFactor), 0.5) / 1000) * 1000;
        termDays = 0;
        opened = p.openedDay + Math.floor(r.next() * (ctx.asOfDay - p.openedDay));
        break;
      case 'mortgage':
        principal = Math.round(r.logNormal(Math.log(p.income * 6 * (p.city.tier === 1 ? 1.6 : 1)), 0.4) / 10_000) * 10_000;
        termDays = r.pick([20, 25, 30]) * 365;
        opened = ctx.asOfDay - r.int(30, 15 * 365);
        break;
      case 'consumer_loan':
        principal = Math.round(r.logNormal(Math.log(50_000), 0.7) / 1000) * 1000;
        termDays = r.pick([1, 2, 3]) * 365;
        opened = ctx.asOfDay - r.int(30, 4 * 365);
        break;
      default:
        principal = Math.round(r.logNormal(Math.log(300_000), 0.8) / 10_000) * 10_000;
        termDays = r.pick([1, 3, 5]) * 365;
        opened = ctx.asOfDay - r.int(30, 5 * 365);
    }
    principal = Math.max(product === 'credit_card' ? 5000 : 10_000, principal);
    opened = Math.max(opened, p.openedDay);
    let outstanding: number;
    if (product === 'credit_card') outstanding = principal * r.next() * 0.8;
    else outstanding = Math.max(0, principal * (1 - (ctx.asOfDay - opened) / termDays));
    let overdue = 0;
    if (outstanding > 0 && riskyBorrower && r.bernoulli(0.7)) {
      overdue = r.weighted([1, 2, 3], [60, 25, 15]) === 1 ? r.int(1, 30) : r.bernoulli(0.6) ? r.int(31, 90) : r.int(91, 180);
    }
    facts.maxOverdueDays = Math.max(facts.maxOverdueDays, overdue);
    if (product === 'consumer_loan' && outstanding > 0) facts.hasActiveConsumerLoan = true;
    if (product === 'credit_card') facts.hasCreditCard = true;
    if (outstanding > 0) {
      const monthly = product === 'credit_card' ? outstanding * 0.3 : (principal / termDays) * 30.44 * 1.15;
      facts.repayments.push([Math.min(28, civilFromDay(opened)[2]), Math.max(50, monthly), opened + 20]);
    }
    sinks['loans.csv'].line(
      `${loanId},${p.coreKey},${product},${money(principal)},${money(outstanding)},${overdue},${dirt.date(fmt.iso(opened))}`,
    );
  });
  return facts;
}

interface IntentFacts {
  logins90: number;
  views30: number;
  calculator30: number;
  applications30: number;
}

interface Stamp {
  t: number; // day * 86400 + second
  s: string;
}
const byTime = (a: Stamp, b: Stamp): number => a.t - b.t;

function writeAppEvents(r: Rng, p: Person, ctx: Context, sinks: Sinks): IntentFacts {
  const facts: IntentFacts = { logins90: 0, views30: 0, calculator30: 0, applications30: 0 };
  if (!p.appUser) return facts;
  const events: Array<{ t: number; type: string }> = [];
  const start = Math.max(ctx.asOfDay - APP_WINDOW_DAYS + 1, p.openedDay);
  const recentStart = Math.max(ctx.asOfDay - INTENT_WINDOW_DAYS + 1, start);
  const at = (day: number): number => day * 86400 + ctx.appHours.sample(r.next()) * 3600 + r.int(0, 3599);

  const logins = Math.min(300, r.poisson(r.logNormal(Math.log(10), 0.9)));
  for (let k = 0; k < logins; k++) events.push({ t: at(r.int(start, ctx.asOfDay)), type: 'login' });
  facts.logins90 = logins;

  // Loan-browsing sessions: frequency and depth grow with the hidden need, concentrated in the last 30 days.
  const need = p.loanNeed;
  const recentSessions = Math.min(40, r.poisson(Math.exp(-1.6 + 1.3 * need)));
  const olderSessions = recentStart > start ? Math.min(40, r.poisson(Math.exp(-1.4 + 0.6 * need))) : 0;
  for (let k = 0; k < recentSessions + olderSessions; k++) {
    const recent = k < recentSessions;
    const day = recent ? r.int(recentStart, ctx.asOfDay) : r.int(start, recentStart - 1);
    // Start early enough that the whole session (at most ~2,000 s) ends the same day.
    let t = Math.min(at(day), day * 86400 + 86400 - 7200);
    events.push({ t, type: 'login' });
    const views = Math.min(8, 1 + r.poisson(0.5 + Math.max(0, need) * 0.5));
    for (let v = 0; v < views; v++) {
      t += r.int(5, 120);
      events.push({ t, type: 'loan_product_view' });
    }
    const calc = r.bernoulli(0.8 * sigmoid(need - 0.5));
    if (calc) {
      t += r.int(20, 300);
      events.push({ t, type: 'loan_calculator' });
    }
    const apply = r.bernoulli(sigmoid(2 * need - 4));
    if (apply) {
      t += r.int(30, 600);
      events.push({ t, type: 'loan_application_start' });
    }
    facts.logins90++;
    if (recent) {
      facts.views30 += views;
      facts.calculator30 += calc ? 1 : 0;
      facts.applications30 += apply ? 1 : 0;
    }
  }
  events.sort((a, b) => a.t - b.t);
  const sink = sinks['app_events.csv'];
  const keyDigits = p.coreKey.slice(1);
  for (let k = 0; k < events.length; k++) {
    const e = events[k] as { t: number; type: string };
    const day = Math.floor(e.t / 86400);
    sink.line(`E${keyDigits}${pad(k, 4)},${p.coreKey},${ctx.fmt.timestamp(day, e.t - day * 86400)},${e.type}`);
  }
  return facts;
}

/** Writes consent history; returns the channels granted by the latest record as of asOf. */
function writeConsent(r: Rng, p: Person, ctx: Context, sinks: Sinks): ConsentChannel[] {
  const rows: Stamp[] = [];
  const granted: ConsentChannel[] = [];
  const onboarding = p.openedDay * 86400 + r.int(9 * 3600, 17 * 3600);
  CONSENT_CHANNELS.forEach((channel, c) => {
    const base = channel === 'app_push' && !p.appUser ? 0.1 : CONSENT_BASE[channel];
    let state = r.bernoulli(base);
    rows.push({ t: onboarding + c, s: `${channel},${state ? 'Y' : 'N'}` });
    let from = p.openedDay + 1;
    let changes = r.bernoulli(0.15) ? (r.bernoulli(0.2) ? 2 : 1) : 0;
    while (changes-- > 0 && from <= ctx.asOfDay) {
      const day = r.int(from, ctx.asOfDay);
      state = !state;
      rows.push({ t: day * 86400 + r.int(8 * 3600, 22 * 3600), s: `${channel},${state ? 'Y' : 'N'}` });
      from = day + 1;
    }
    if (state) granted.push(channel);
  });
  rows.sort(byTime);
  const keyDigits = p.coreKey.slice(1);
  for (let k = 0; k < rows.length; k++) {
    const row = rows[k] as Stamp;
    const day = Math.floor(row.t / 86400);
    sinks['consent.csv'].line(
      `S${keyDigits}${pad(k, 2)},${p.coreKey},${row.s},${ctx.fmt.timestamp(day, row.t - day * 86400)}`,
    );
  }
  return granted;
}

/**
 * The hidden conversion logit per product: a logistic function of features a tag system can observe
 * (income, deposits, age 25–45, recent loan intent, no existing product, salary, app activity, overdue)
 * plus person-level noise.
 */
function conversionLogits(
  r: Rng,
  p: Person,
  deposits: DepositFacts,
  loans: LoanFacts,
  intent: IntentFacts,
): { consumer_loan: number; credit_card: number } {
  const intentScore = Math.log1p(intent.views30 + 2 * intent.calculator30 + 4 * intent.applications30);
  const common =
    CONVERSION_INTERCEPT +
    0.35 * clamp(Math.log(p.income / 90_000), -2, 2) +
    0.12 * clamp(Math.log1p(deposits.depositAsOf) - Math.log(50_000), -3, 3) +
    (p.age >= 25 && p.age <= 45 ? 0.5 : 0) +
    (p.salaried ? 0.5 : 0) +
    (intent.logins90 >= 10 ? 0.3 : 0) -
    (loans.maxOverdueDays > 0 ? 1.2 : 0) +
    r.normal(0, 0.5);
  return {
    consumer_loan: common + 1.1 * intentScore + (loans.hasActiveConsumerLoan ? -1.2 : 0.4),
    credit_card: common + 0.5 * intentScore + (loans.hasCreditCard ? -1.2 : 0.4),
  };
}

function writeContacts(
  r: Rng,
  p: Person,
  ctx: Context,
  granted: readonly ConsentChannel[],
  logits: { consumer_loan: number; credit_card: number },
  sinks: Sinks,
): void {
  const n = r.poisson(0.9);
  if (n === 0 || granted.length === 0) return;
  const fmt = ctx.fmt;
  const rows: Stamp[] = [];
  for (let k = 0; k < n; k++) {
    const product = r.bernoulli(0.5) ? 'consumer_loan' : 'credit_card';
    const channel = r.pick(granted);
    const monthsBack = r.int(0, CAMPAIGN_MONTHS - 1);
    let day: number;
    if (monthsBack === 0) {
      day = ctx.asOfDay - r.int(0, 6); // the current wave: frequency caps and cooldowns matter
    } else {
      const start = monthStart(ctx.asOfDay, monthsBack);
      const end = Math.min(monthEnd(start), ctx.asOfDay - 7);
      day = end <= start ? start : r.int(start, end);
    }
    const contactedSec = r.int(9 * 3600, 20 * 3600);
    if (day < p.openedDay) continue; // not yet a customer then
    const [y, m] = civilFromDay(day);
    const campaignId = `${product === 'consumer_loan' ? 'CL' : 'CC'}-${y}${m < 10 ? '0' : ''}${m}`;
    let converted = r.bernoulli(sigmoid(logits[product] + CHANNEL_LIFT[channel]));
    const convertedDay = day + r.int(1, 30);
    const convertedSec = r.int(8 * 3600, 22 * 3600);
    // A conversion after asOf has not happened yet as far as this extract knows.
    if (convertedDay > ctx.asOfDay) converted = false;
    const value =
      product === 'consumer_loan'
        ? Math.max(5000, Math.round(r.logNormal(Math.log(Math.max(20_000, p.income * 0.4)), 0.6) / 1000) * 1000)
        : r.logNormal(Math.log(600), 0.6);
    const tail = converted ? `1,${fmt.timestamp(convertedDay, convertedSec)},${money(value)}` : '0,,';
    rows.push({
      t: day * 86400 + contactedSec,
      s: `${campaignId},${product},${channel},${fmt.timestamp(day, contactedSec)},${tail}`,
    });
  }
  rows.sort(byTime);
  const keyDigits = p.coreKey.slice(1);
  for (let k = 0; k < rows.length; k++) {
    sinks['campaign_contacts.csv'].line(`M${keyDigits}${pad(k, 3)},${p.coreKey},${(rows[k] as Stamp).s}`);
  }
}

interface Txn {
  t: number;
  account: string;
  amount: number;
  credit: boolean;
  channel: string;
  category: string;
}

function writeTransactions(
  r: Rng,
  p: Person,
  ctx: Context,
  deposits: DepositFacts,
  loans: LoanFacts,
  dirt: Dirt,
  sinks: Sinks,
): void {
  const txns: Txn[] = [];
  const main = deposits.demandAccounts[0] as string;
  const other = deposits.demandAccounts[1] ?? main;
  const mainOpened = deposits.demandOpened[0] as number;
  const otherOpened = deposits.demandOpened[1] ?? mainOpened;
  const { txnStart, asOfDay } = ctx;
  const inWindow = (day: number): boolean => day >= txnStart && day <= asOfDay;
  const sec = (fromHour: number, toHour: number): number => r.int(fromHour * 3600, toHour * 3600 - 1);
  const add = (day: number, s: number, account: string, amount: number, credit: boolean, channel: string, category: string): void => {
    if (day < mainOpened) return; // no activity before the relationship started
    const acct = account === other && day < otherOpened ? main : account;
    txns.push({ t: day * 86400 + s, account: acct, amount: Math.max(0.01, amount), credit, channel, category });
  };

  // Regular monthly flows: salary or pension in, utilities and loan repayments out.
  const payDay = r.pick([5, 10, 15, 25, 31]);
  const utilitiesDay = r.int(15, 25);
  const paysUtilities = r.bernoulli(0.7);
  for (const [start, end] of ctx.txnMonths) {
    const [, month] = civilFromDay(start);
    const pay = Math.min(start + payDay - 1, end);
    if (inWindow(pay)) {
      if (p.salaried) {
        const bonus = month === 12 ? 1.5 + 1.5 * r.next() : 1; // year-end bonus (年终奖)
        add(pay, sec(9, 11), main, (p.income / 13) * bonus * (0.95 + 0.1 * r.next()), true, 'online', 'salary');
      } else if (p.occupation === '退休') {
        add(pay, sec(8, 10), main, p.income / 12, true, 'online', 'other');
      }
    }
    const util = start + utilitiesDay - 1;
    if (paysUtilities && inWindow(util)) add(util, sec(7, 23), main, r.logNormal(Math.log(200), 0.5), false, r.bernoulli(0.7) ? 'mobile' : 'online', 'utilities');
    for (const [dom, amount, firstDue] of loans.repayments) {
      const due = start + dom - 1;
      if (inWindow(due) && due >= firstDue) add(due, sec(6, 12), main, amount, false, 'online', 'loan_repayment');
    }
  }

  if (p.occupation === '个体户' || p.occupation === '自由职业') {
    const n = r.poisson(5);
    for (let k = 0; k < n; k++) {
      add(txnStart + r.int(0, TXN_WINDOW_DAYS - 1), sec(8, 22), main, r.logNormal(Math.log(p.income / 10), 0.6), true, r.bernoulli(0.6) ? 'mobile' : 'online', 'transfer');
    }
  }

  // Everyday spending follows weekly, month-end and holiday rhythms.
  const young = p.age < 35;
  const senior = p.age >= 60;
  const activity = r.logNormal(0, 0.6) * (young ? 1.2 : senior ? 0.5 : 1) * clamp(Math.pow(p.income / 90_000, 0.3), 0.5, 1.6);
  const spends = Math.min(400, r.poisson(11 * activity));
  const spendChannels = senior ? ['pos', 'mobile', 'counter'] : ['pos', 'mobile', 'online'];
  const spendChannelW = senior ? [60, 20, 20] : young ? [30, 55, 15] : [45, 40, 15];
  for (let k = 0; k < spends; k++) {
    const day = txnStart + ctx.spendDays.sample(r.next());
    const s = ctx.spendHours.sample(r.next()) * 3600 + r.int(0, 3599);
    const dining = r.bernoulli(0.45);
    const amount = dining ? r.logNormal(Math.log(75), 0.6) : r.logNormal(Math.log(260), 0.9);
    add(day, s, r.bernoulli(0.8) ? main : other, amount, false, r.weighted(spendChannels, spendChannelW), dining ? 'dining' : 'shopping');
  }

  const transfers = r.poisson(3);
  for (let k = 0; k < transfers; k++) {
    const day = txnStart + ctx.spendDays.sample(r.next());
    const channel = senior ? r.weighted(['counter', 'mobile', 'online'], [50, 30, 20]) : r.weighted(['mobile', 'online', 'counter'], [70, 25, 5]);
    add(day, sec(8, 22), main, r.logNormal(Math.log(2000), 1.1), r.bernoulli(0.45), channel, 'transfer');
  }

  const withdrawals = r.poisson(senior ? 2 : 1);
  for (let k = 0; k < withdrawals; k++) {
    add(txnStart + ctx.spendDays.sample(r.next()), sec(7, 23), main, r.int(1, 30) * 100, false, 'atm', 'other');
  }

  if (deposits.depositAsOf > 100_000) {
    const n = r.poisson(1.5);
    for (let k = 0; k < n; k++) {
      add(txnStart + r.int(0, TXN_WINDOW_DAYS - 1), sec(9, 15), main, r.logNormal(Math.log(30_000), 0.8), r.bernoulli(0.3), r.weighted(['online', 'mobile', 'counter'], [50, 30, 20]), 'investment');
    }
  }

  txns.sort((a, b) => a.t - b.t);
  const sink = sinks['transactions.csv'];
  const keyDigits = p.coreKey.slice(1);
  for (let k = 0; k < txns.length; k++) {
    const x = txns[k] as Txn;
    const day = Math.floor(x.t / 86400);
    const amount = dirt.negative() ? `-${money(x.amount)}` : money(x.amount);
    const line =
      `T${keyDigits}${pad(k, 4)},${x.account},${p.coreKey},${ctx.fmt.timestamp(day, x.t - day * 86400)},` +
      `${amount},${x.credit ? 'credit' : 'debit'},${x.channel},${x.category}`;
    sink.line(line);
    if (dirt.duplicate()) sink.line(line);
  }
}

const COMPLAINT_CATEGORIES = ['service', 'fees', 'marketing', 'app', 'other'] as const;
const COMPLAINT_WEIGHTS = [35, 25, 15, 15, 10];

/**
 * Complaints in the year up to asOf (about 3% of customers; more for older customers and heavy app users).
 * Its own random stream, so adding the file left every other file byte-identical.
 */
function writeComplaints(index: number, p: Person, ctx: Context, sinks: Sinks): void {
  const r = createRng(deriveSeed(ctx.seed, index, 'complaints'));
  const rate = 0.025 + (p.age >= 60 ? 0.02 : 0) + (p.appUser ? 0.005 : 0);
  if (!r.bernoulli(rate)) return;
  const count = 1 + (r.bernoulli(0.25) ? 1 : 0);
  const first = Math.max(ctx.asOfDay - 364, p.openedDay);
  for (let k = 0; k < count; k++) {
    const day = r.int(first, ctx.asOfDay);
    const status = ctx.asOfDay - day < 14 && r.bernoulli(0.6) ? 'open' : 'closed';
    sinks['complaints.csv'].line(`Q${p.coreKey.slice(1)}${k},${p.coreKey},${ctx.fmt.timestamp(day, r.int(9 * 3600, 20 * 3600))},${r.weighted(COMPLAINT_CATEGORIES, COMPLAINT_WEIGHTS)},${status}`);
  }
}

function generatePerson(index: number, ctx: Context, sinks: Sinks): void {
  const r = createRng(deriveSeed(ctx.seed, index));
  const dirt = new Dirt(createRng(deriveSeed(ctx.seed, index, 'dirt')), ctx.dirt);
  const p = makePerson(r, index, ctx);
  writeCustomers(p, ctx, dirt, sinks);
  const deposits = writeAccounts(r, p, ctx, dirt, sinks);
  const loans = writeLoans(r, p, ctx, dirt, sinks);
  const intent = writeAppEvents(r, p, ctx, sinks);
  const granted = writeConsent(r, p, ctx, sinks);
  const logits = conversionLogits(r, p, deposits, loans, intent);
  writeContacts(r, p, ctx, granted, logits, sinks);
  writeTransactions(r, p, ctx, deposits, loans, dirt, sinks);
  writeComplaints(index, p, ctx, sinks);
  if (ctx.followUp) {
    writeFollowUpOpenings(index, p, ctx, logits, sinks);
    writeFollowUpActivity(index, p, ctx, deposits, sinks);
  }
}

/**
 * Everyday activity in (base date, asOf] of a follow-up extract, so it is as fresh as a real later extract: a
 * balance of each demand account on asOf, salary credits, spending and app logins. Its own 'followup-activity'
 * stream, with ids of their own ('F' infix), so the base rows and the product openings stay as they were.
 */
function writeFollowUpActivity(index: number, p: Person, ctx: Context, deposits: DepositFacts, sinks: Sinks): void {
  const until = ctx.followUp!.untilDay;
  const days = until - ctx.asOfDay;
  if (days <= 0) return;
  const r = createRng(deriveSeed(ctx.seed, index, 'followup-activity'));
  const keyDigits = p.coreKey.slice(1);
  deposits.demandAccounts.forEach((account, k) => {
    sinks['balances.csv'].line(`${account},${ctx.fmt.iso(until)},${money(Math.max(0, (deposits.demandBalanceAsOf[k] ?? 0) * Math.exp(r.normal(0, 0.05))))}`);
  });
  const main = deposits.demandAccounts[0];
  if (main === undefined) return;
  const txns: { t: number; line: string }[] = [];
  const at = (day: number, fromHour: number, toHour: number) => day * 86400 + r.int(fromHour * 3600, toHour * 3600 - 1);
  if (p.salaried) for (let d = ctx.asOfDay + 30; d <= until; d += 30) txns.push({ t: at(d, 9, 11), line: `${money((p.income / 13) * (0.95 + 0.1 * r.next()))},credit,online,salary` });
  const spends = r.poisson((days / 30) * 8);
  for (let k = 0; k < spends; k++) txns.push({ t: at(ctx.asOfDay + r.int(1, days), 8, 22), line: `${money(r.logNormal(Math.log(150), 0.8))},debit,${r.weighted(['pos', 'mobile', 'online'], [40, 45, 15])},shopping` });
  txns.sort((a, b) => a.t - b.t);
  txns.forEach((x, k) => {
    const day = Math.floor(x.t / 86400);
    sinks['transactions.csv'].line(`T${keyDigits}F${pad(k, 3)},${main},${p.coreKey},${ctx.fmt.timestamp(day, x.t - day * 86400)},${x.line}`);
  });
  const logins = r.poisson((days / 30) * 6);
  const stamps = Array.from({ length: logins }, () => at(ctx.asOfDay + r.int(1, days), 7, 23)).sort((a, b) => a - b);
  stamps.forEach((t, k) => {
    const day = Math.floor(t / 86400);
    sinks['app_events.csv'].line(`E${keyDigits}F${pad(k, 3)},${p.coreKey},${ctx.fmt.timestamp(day, t - day * 86400)},login`);
  });
}

/** Conversion logit shift for customers nobody contacted: organic openings are rarer than responses. */
const ORGANIC_SHIFT = -1.2;
const RESPONSE_DAYS = 30;

/**
 * Products opened after the base date (follow-up extract). One uniform draw per product from the person's own
 * 'followup' stream is compared with the organic and, when contacted, the contacted probability, so a contact
 * only ever adds openings (same person, same draw). A response opens 1–30 days after the contact.
 */
function writeFollowUpOpenings(index: number, p: Person, ctx: Context, logits: { consumer_loan: number; credit_card: number }, sinks: Sinks): void {
  const f = ctx.followUp!;
  const r = createRng(deriveSeed(ctx.seed, index, 'followup'));
  const cardKey = `K${pad((p.index * 48_271 + ctx.cardKeyOffset) % 100_000_000, 8)}`;
  const contacts = [...(f.contacts.get(p.coreKey) ?? []), ...(f.contacts.get(cardKey) ?? [])];
  const products = ['consumer_loan', 'credit_card'] as const;
  products.forEach((product, k) => {
    const u = r.next();
    const organicDay = ctx.asOfDay + r.int(1, Math.max(1, f.untilDay - ctx.asOfDay));
    const responseLag = r.int(1, RESPONSE_DAYS);
    const amount = product === 'consumer_loan' ? Math.max(10_000, Math.round(r.logNormal(Math.log(50_000), 0.7) / 1000) * 1000) : Math.max(5000, Math.round(r.logNormal(Math.log(30_000), 0.5) / 1000) * 1000);
    const contact = contacts.filter((c) => c.product === product && c.day >= ctx.asOfDay && c.day < f.untilDay).sort((a, b) => a.day - b.day)[0];
    let day: number | null = null;
    if (contact && u < sigmoid(logits[product])) day = Math.min(contact.day + responseLag, f.untilDay);
    else if (u < sigmoid(logits[product] + ORGANIC_SHIFT) && organicDay <= f.untilDay) day = organicDay;
    if (day === null) return;
    const outstanding = product === 'credit_card' ? 0 : amount;
    sinks['loans.csv'].line(`L${p.coreKey.slice(1)}F${k},${p.coreKey},${product},${money(amount)},${money(outstanding)},0,${ctx.fmt.iso(day)}`);
  });
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Writes the synthetic source extracts (FILE_COLUMNS) and generate-summary.json into opts.outDir.
 * Deterministic: the same options give byte-identical files. Memory is bounded (streams customer by customer).
 */
export async function generateSourceExtracts(opts: GenerateOptions): Promise<GenerateSummary> {
  const { customers, seed, outDir, asOf } = opts;
  if (!Number.isInteger(customers) || customers < 0) {
    throw new RangeError(`customers must be a non-negative integer, got ${String(customers)}`);
  }
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${String(seed)}`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf) || parseDate(asOf) !== asOf) {
    throw new RangeError(`asOf must be a real date written YYYY-MM-DD, got "${asOf}"`);
  }
  const dirt = resolveDirt(opts.dirt);
  const baseAsOf = opts.followUp?.baseAsOf;
  if (baseAsOf !== undefined && (parseDate(baseAsOf) !== baseAsOf || baseAsOf >= asOf)) {
    throw new RangeError(`followUp.baseAsOf must be a real date YYYY-MM-DD before asOf ${asOf}, got "${baseAsOf}"`);
  }
  // A follow-up extract regenerates the base date's persons and rows, then adds what happened since.
  const ctx = makeContext(seed, baseAsOf ?? asOf, dirt);
  if (baseAsOf !== undefined) ctx.followUp = { untilDay: dayOf(asOf), contacts: contactsByKey(opts.followUp?.contacts ?? [], baseAsOf) };

  await mkdir(outDir, { recursive: true });
  const names = Object.keys(FILE_COLUMNS) as GeneratedFile[];
  const sinks = {} as Sinks;
  for (const name of names) sinks[name] = new CsvSink(join(outDir, name), FILE_COLUMNS[name]);
  const sinkList = names.map((name) => sinks[name]);

  const files: GenerateSummary['files'] = {};
  try {
    for (let i = 0; i < customers; i++) {
      generatePerson(i, ctx, sinks);
      for (const sink of sinkList) if (sink.blocked) await sink.ready();
    }
    for (const name of names) {
      const stats: CsvFileStats = await sinks[name].close();
      files[name] = stats;
    }
  } catch (err) {
    for (const sink of sinkList) sink.destroy();
    throw err;
  }

  const summary: GenerateSummary = { customers, seed, asOf, ...(baseAsOf !== undefined ? { baseAsOf } : {}), files, dirt };
  await writeFile(join(outDir, SUMMARY_FILE), `${JSON.stringify(summary, null, 2)}\n`, 'utf8');
  return summary;
}

const dayOf = (iso: string): number => dayFromCivil(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)), Number(iso.slice(8, 10)));

function contactsByKey(contacts: readonly ChannelContact[], baseAsOf: string): Map<string, Array<{ product: string; day: number }>> {
  const byKey = new Map<string, Array<{ product: string; day: number }>>();
  contacts.forEach((c, i) => {
    if (parseDate(c.contactedOn) !== c.contactedOn) throw new RangeError(`followUp.contacts[${i}].contactedOn must be YYYY-MM-DD, got "${c.contactedOn}"`);
    if (c.contactedOn < baseAsOf) return; // before the base extract: already reflected there
    const list = byKey.get(c.customerKey) ?? [];
    list.push({ product: c.product, day: dayOf(c.contactedOn) });
    byKey.set(c.customerKey, list);
  });
  return byKey;
}
