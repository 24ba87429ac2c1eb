import path from 'node:path';
import { loadConfig } from '../../config/load';
import { addDays, runConsecutiveDays } from '../../bench/consecutiveDays';
import { checkMonth, readMonthFacts, timeTrend, type MonthFacts } from '../../bench/monthCheck';
import type { DailyRunResult } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';

const START = '2026-11-20';
const DAYS = 5;
const config = loadConfig();
let ctx: TestContext;
let results: DailyRunResult[];
let facts: MonthFacts;
const dates = Array.from({ length: DAYS }, (_, k) => addDays(START, k));

beforeAll(async () => {
  ctx = await createTestContext('month');
  await ctx.startWorker();
  results = await runConsecutiveDays({ db: ctx.db, client: ctx.client, taskQueue: ctx.taskQueue, config, customers: 1500, seed: 13, dates, dataDir: path.join(ctx.workDir, 'extracts') });
  facts = await readMonthFacts(ctx.db, results.map((r) => r.runId), dates);
});

afterAll(async () => {
  for (const id of (results ?? []).flatMap((r) => r.outcomeWorkflowIds)) await ctx.client.workflow.getHandle(id).terminate('test done').catch(() => undefined);
  await ctx?.close();
});

test('consecutive days through the real workflow keep the month invariants', () => {
  expect(results.map((r) => r.asOf)).toEqual(dates);
  // The checks had something to check: lineage of every day, Portrait contacts on several days, the bank's history.
  expect(new Set(facts.lineage.map((l) => l.asOf)).size).toBe(DAYS);
  expect(new Set(facts.contacts.filter((c) => c.portrait).map((c) => c.on)).size).toBeGreaterThan(1);
  expect(facts.contacts.some((c) => !c.portrait)).toBe(true);
  expect(facts.cooldownEvents.length).toBeGreaterThan(0);
  expect(new Set(facts.arms.map((a) => a.asOf)).size).toBeGreaterThan(1);
  expect(facts.arms.some((a) => a.control > 0)).toBe(true);
  expect(checkMonth(facts, config.policies)).toEqual([]);
});

test('the checks fail on doctored rows: a missing day, a changed golden id, extra contacts, a contact in a cooldown, a control pile-up, growing time', () => {
  const sent = facts.contacts.find((c) => c.portrait)!;
  const lineage = facts.lineage[0]!;
  const doctored: MonthFacts = {
    ...facts,
    runs: facts.runs.map((r, k) => ({ ...r, status: k === 1 ? 'failed' : r.status, seconds: (r.seconds ?? 1) * (1 + k) })),
    lineage: [...facts.lineage, { ...lineage, asOf: dates.at(-1)!, goldenId: `${lineage.goldenId}-other` }],
    contacts: [...facts.contacts, ...Array.from({ length: config.policies.frequencyCap.contacts }, () => ({ ...sent }))],
    cooldownEvents: [...facts.cooldownEvents, { goldenId: sent.goldenId, on: sent.on, kind: 'refusal' as const }],
    // The pile-up seen before held-out selections counted towards the caps: most of a day's selection in control.
    arms: facts.arms.map((a, k) => (k === facts.arms.length - 1 ? { ...a, control: a.treatment * 4 } : a)),
  };
  const violations = checkMonth(doctored, config.policies, { timeTrend: true });
  expect(checkMonth(doctored, config.policies).filter((v) => v.startsWith('time trend:'))).toEqual([]);
  for (const prefix of ['runs:', 'golden ids:', 'frequency cap:', 'channel daily cap:', 'refusal cooldown:', 'control share:', 'time trend:']) {
    expect(violations.filter((v) => v.startsWith(prefix))).toHaveLength(1);
  }
  expect(timeTrend([10, 10, 10, 10]).grows).toBe(false);
  expect(timeTrend([10, 9, 11, 10]).grows).toBe(false);
});
