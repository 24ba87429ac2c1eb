/**
 * Invariants of consecutive daily runs (issue 12, part 8), read from the database after the runs: every date has a
 * succeeded run, a source customer keeps its golden id on every day, no customer is contacted more often than the
 * frequency cap, the channel daily cap and the cooldowns allow over the whole period, and the time of a day does
 * not grow with the day number. The checks are pure functions over plain rows (`checkMonth`), so they can be shown
 * to fail on doctored rows; `readMonthFacts` gathers those rows.
 */
import type { Knex } from 'knex';
import type { PortraitConfig } from '../config/schema';
import { checkControlShare, expectedControlShare } from '../transforms/policies';

type Policies = PortraitConfig['policies'];

export interface MonthFacts {
  /** The dates that should each have a succeeded run, in order. */
  dates: string[];
  runs: { runId: string; asOf: string; status: string; seconds: number | null }[];
  /** One row per (run, source customer key): the golden id that run gave it. */
  lineage: { asOf: string; sourceSystem: string; customerKey: string; goldenId: string }[];
  /** Every contact that counts towards the caps: Portrait treatment contacts and the bank's own campaign history. */
  contacts: { goldenId: string; on: string; channel: string; portrait: boolean }[];
  /** Conversions and refusals (an opt-out on any channel), by local date. */
  cooldownEvents: { goldenId: string; on: string; kind: 'conversion' | 'refusal' }[];
  /** Selected customers per (date, campaign) by arm, with the control share the configuration expects. */
  arms: { asOf: string; campaignId: string; treatment: number; control: number; expected: number }[];
}

export interface TimeTrend {
  /** Least-squares slope of a day's seconds against its day number. */
  slope_s_per_day: number;
  /** slope × (days − 1) as a share of the mean day: how much the fitted line grows over the period. */
  fitted_growth: number;
  grows: boolean;
}

/** A fitted growth above this share of the mean day counts as "grows with the day number" (noise on a shared machine stays below it). */
export const MAX_FITTED_GROWTH = 0.2;

const DAY_MS = 86_400_000;
const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

export function timeTrend(seconds: readonly number[]): TimeTrend {
  const n = seconds.length;
  if (n < 2) return { slope_s_per_day: 0, fitted_growth: 0, grows: false };
  const meanX = (n - 1) / 2;
  const meanY = seconds.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  seconds.forEach((y, x) => {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
  });
  const slope = sxy / sxx;
  const growth = meanY > 0 ? (slope * (n - 1)) / meanY : 0;
  return { slope_s_per_day: round(slope, 3), fitted_growth: round(growth, 3), grows: growth > MAX_FITTED_GROWTH };
}

/**
 * One line per violated invariant (empty when all hold), each naming an example so it can be looked up. The time trend
 * is wall-clock: the benchmark checks it on a measured machine; tests leave it off (their timings are noise on a shared CI box).
 */
export function checkMonth(
  facts: MonthFacts,
  policies: Pick<Policies, 'frequencyCap' | 'channelDailyCap' | 'cooldownDays' | 'controlShareTolerance'>,
  options: { timeTrend?: boolean } = {},
): string[] {
  const violations: string[] = [];

  const succeeded = new Set(facts.runs.filter((r) => r.status === 'succeeded').map((r) => r.asOf));
  const missing = facts.dates.filter((d) => !succeeded.has(d));
  if (missing.length) violations.push(`runs: ${missing.length} of ${facts.dates.length} dates have no succeeded run (first: ${missing[0]})`);

  const golden = new Map<string, Set<string>>();
  for (const r of facts.lineage) {
    const key = `${r.sourceSystem}:${r.customerKey}`;
    (golden.get(key) ?? golden.set(key, new Set()).get(key)!).add(r.goldenId);
  }
  const unstable = [...golden].filter(([, ids]) => ids.size > 1);
  if (unstable.length) violations.push(`golden ids: ${unstable.length} source customers changed golden id across days (first: ${unstable[0]![0]} → ${[...unstable[0]![1]].sort().join(', ')})`);

  // The dispatch counts, for a send on date D, the contacts dated in [D − days + 1, D] including the new one.
  const byCustomer = new Map<string, MonthFacts['contacts']>();
  for (const c of facts.contacts) (byCustomer.get(c.goldenId) ?? byCustomer.set(c.goldenId, []).get(c.goldenId)!).push(c);
  const cap = policies.frequencyCap;
  let overCap = 0;
  let overCapExample = '';
  let overChannel = 0;
  let overChannelExample = '';
  for (const [goldenId, contacts] of byCustomer) {
    for (const sent of contacts.filter((c) => c.portrait)) {
      const from = addDays(sent.on, -(cap.days - 1));
      const inWindow = contacts.filter((c) => c.on >= from && c.on <= sent.on).length;
      if (inWindow > cap.contacts) {
        overCap++;
        overCapExample ||= `${goldenId} on ${sent.on}: ${inWindow} contacts in ${cap.days} days`;
      }
      const sameDay = contacts.filter((c) => c.portrait && c.on === sent.on && c.channel === sent.channel).length;
      if (sameDay > policies.channelDailyCap) {
        overChannel++;
        overChannelExample ||= `${goldenId} on ${sent.on} by ${sent.channel}: ${sameDay}`;
      }
    }
  }
  if (overCap) violations.push(`frequency cap: ${overCap} Portrait contacts exceed ${cap.contacts} per ${cap.days} days (first: ${overCapExample})`);
  if (overChannel) violations.push(`channel daily cap: ${overChannel} Portrait contacts exceed ${policies.channelDailyCap} per channel and day (first: ${overChannelExample})`);

  // A send on D is refused while D − (date of the latest conversion/refusal on or before D) < the cooldown.
  const events = new Map<string, MonthFacts['cooldownEvents']>();
  for (const e of facts.cooldownEvents) (events.get(e.goldenId) ?? events.set(e.goldenId, []).get(e.goldenId)!).push(e);
  for (const kind of ['conversion', 'refusal'] as const) {
    const days = policies.cooldownDays[kind];
    let n = 0;
    let example = '';
    for (const sent of facts.contacts.filter((c) => c.portrait)) {
      const hit = (events.get(sent.goldenId) ?? []).find((e) => e.kind === kind && e.on <= sent.on && e.on > addDays(sent.on, -days));
      if (hit) {
        n++;
        example ||= `${sent.goldenId} contacted ${sent.on}, ${kind} ${hit.on}`;
      }
    }
    if (n) violations.push(`${kind} cooldown: ${n} Portrait contacts within ${days} days after a ${kind} (first: ${example})`);
  }

  // Controls must stay a random share of each day's selection, or lift compares the treated with a pile-up of holdouts.
  const drifted = facts.arms
    .map((a) => ({ ...a, check: checkControlShare(a.treatment, a.control, a.expected, policies.controlShareTolerance) }))
    .filter((a) => !a.check.withinTolerance);
  if (drifted.length) {
    const d = drifted[0]!;
    violations.push(`control share: ${drifted.length} of ${facts.arms.length} campaign days outside tolerance (first: ${d.campaignId} on ${d.asOf}: ${round(d.check.observed!, 3)} of ${d.check.selected} selected, expected ${round(d.expected, 3)} ± ${round(d.check.tolerance!, 3)})`);
  }

  if (!options.timeTrend) return violations;
  const seconds = facts.runs.filter((r) => r.status === 'succeeded' && r.seconds !== null).map((r) => r.seconds!);
  const trend = timeTrend(seconds);
  if (trend.grows) violations.push(`time trend: a day's time grows ${trend.slope_s_per_day} s per day (fitted growth ${Math.round(trend.fitted_growth * 100)} % of the mean day over ${seconds.length} days, more than ${MAX_FITTED_GROWTH * 100} %)`);
  return violations;
}

/**
 * The facts of the given runs (one per date, in date order). The bank's contact history, conversions and consent come
 * from the landing rows of the last run: every extract carries the bank's whole history, so the last one holds what
 * every earlier run saw (older landing partitions may already be dropped by the retention policy).
 */
export async function readMonthFacts(db: Knex, runIds: readonly string[], dates: readonly string[]): Promise<MonthFacts> {
  const runRows = await db('audit.runs')
    .whereIn('run_id', runIds)
    .select('run_id', db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"), 'status', 'config', db.raw('extract(epoch from finished_at - started_at)::float8 as seconds'))
    .orderBy('as_of');
  const runs = runRows.map((r) => ({ runId: r.run_id as string, asOf: r.as_of as string, status: r.status as string, seconds: r.seconds === null ? null : Number(r.seconds) }));
  const lineage = (
    await db('core.customer_sources as s')
      .join('audit.runs as r', 'r.run_id', 's.run_id')
      .whereIn('s.run_id', runIds)
      .select(db.raw("to_char(r.as_of, 'YYYY-MM-DD') as as_of"), 's.source_system', 's.customer_key', 's.golden_id')
  ).map((r) => ({ asOf: r.as_of, sourceSystem: r.source_system, customerKey: r.customer_key, goldenId: r.golden_id }));
  const last = runRows.filter((r) => r.status === 'succeeded').at(-1);
  const timezone = (last?.config as PortraitConfig | undefined)?.timezone ?? 'UTC';
  // Once per idempotency key: a re-run of a date is not an extra contact.
  const portrait = await db.raw(
    `select distinct on (idempotency_key) golden_id, to_char(as_of, 'YYYY-MM-DD') as on, channel
     from campaign.dispatch where arm = 'treatment' and run_id = any(?::text[]) order by idempotency_key`,
    [runIds as string[]],
  );
  const contacts: MonthFacts['contacts'] = portrait.rows.map((r: { golden_id: string; on: string; channel: string }) => ({ goldenId: r.golden_id, on: r.on, channel: r.channel, portrait: true }));
  const cooldownEvents: MonthFacts['cooldownEvents'] = [];
  if (last) {
    const keys = `with keys as (select distinct customer_key, golden_id from core.customer_sources where run_id = ?)`;
    const bank = await db.raw(
      `${keys} select k.golden_id, to_char(h.contacted_at at time zone ?, 'YYYY-MM-DD') as on, h.channel, to_char(case when h.converted then h.converted_at end at time zone ?, 'YYYY-MM-DD') as converted_on
       from landing.campaign_contacts h join keys k using (customer_key) where h.run_id = ?`,
      [last.run_id, timezone, timezone, last.run_id],
    );
    for (const r of bank.rows) {
      contacts.push({ goldenId: r.golden_id, on: r.on, channel: r.channel, portrait: false });
      if (r.converted_on) cooldownEvents.push({ goldenId: r.golden_id, on: r.converted_on, kind: 'conversion' });
    }
    const refusals = await db.raw(
      `${keys} select k.golden_id, to_char(c.recorded_at at time zone ?, 'YYYY-MM-DD') as on from landing.consent c join keys k using (customer_key) where c.run_id = ? and not c.granted`,
      [last.run_id, timezone, last.run_id],
    );
    for (const r of refusals.rows) cooldownEvents.push({ goldenId: r.golden_id, on: r.on, kind: 'refusal' });
  }
  const armRows = await db('campaign.dispatch')
    .whereIn('run_id', runIds)
    .groupBy('run_id', 'campaign_id')
    .select('run_id', 'campaign_id', db.raw("count(*) filter (where arm = 'treatment')::int as treatment"), db.raw("count(*) filter (where arm = 'control')::int as control"));
  const runById = new Map(runRows.map((r) => [r.run_id as string, r]));
  const arms = armRows
    .map((r) => {
      const run = runById.get(r.run_id)!;
      const config = run.config as PortraitConfig;
      const campaign = config.campaigns.find((c) => c.id === r.campaign_id);
      return { asOf: run.as_of as string, campaignId: r.campaign_id as string, treatment: r.treatment as number, control: r.control as number, expected: expectedControlShare(campaign?.holdoutShare ?? 0, config.policies.globalHoldoutShare) };
    })
    .sort((a, b) => a.asOf.localeCompare(b.asOf) || a.campaignId.localeCompare(b.campaignId));
  return { dates: [...dates], runs, lineage, contacts, cooldownEvents, arms };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
