import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import { configSha256 } from '../config/load';
import type { PortraitConfig } from '../config/schema';
import { generateSourceExtracts, type ChannelContact } from '../generator/generate';
import { treatmentContacts } from '../cli/followUp';
import { newRunId } from '../cli/runs';
import { WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../shared';

export const addDays = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * Runs consecutive dates through dailyRun, one at a time in date order, on the bank's extracts of each date: the
 * first as generated, every later one the same bank with the products opened since the first date (more among the
 * customers Portrait contacted on the days before). Outcomes are not awaited. `beforeRun`/`afterRun` bracket each
 * run (generation is outside them); `until` rejects to abandon the wait (e.g. the worker died).
 */
export async function runConsecutiveDays(opts: {
  db: Knex;
  client: Client;
  taskQueue: string;
  config: PortraitConfig;
  customers: number;
  seed: number;
  dates: readonly string[];
  /** Extracts go to dataDir/<as-of>; the first date's are reused when already there. */
  dataDir: string;
  until?: Promise<never>;
  beforeRun?: (asOf: string, day: number) => void | Promise<void>;
  /** Called with the result, or with undefined when the run failed (the error is then thrown). */
  afterRun?: (result: DailyRunResult | undefined, day: number) => void | Promise<void>;
}): Promise<DailyRunResult[]> {
  const { db, client, config, dates } = opts;
  const contacts: ChannelContact[] = [];
  const results: DailyRunResult[] = [];
  for (const [k, asOf] of dates.entries()) {
    const inputDir = path.join(opts.dataDir, asOf);
    if (k === 0) {
      if (!existsSync(path.join(inputDir, 'generate-summary.json'))) await generateSourceExtracts({ customers: opts.customers, seed: opts.seed, outDir: inputDir, asOf });
    } else {
      await generateSourceExtracts({ customers: opts.customers, seed: opts.seed, outDir: inputDir, asOf, followUp: { baseAsOf: dates[0]!, contacts } });
    }
    const input: DailyRunInput = { runId: newRunId(asOf), asOf, inputDir, config, configSha256: configSha256(config), awaitOutcomes: false };
    await opts.beforeRun?.(asOf, k);
    let result: DailyRunResult | undefined;
    try {
      const handle = await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: opts.taskQueue, workflowId: `dailyRun-${input.runId}`, args: [input] });
      result = await (opts.until ? Promise.race([handle.result(), opts.until]) : handle.result());
    } finally {
      await opts.afterRun?.(result, k);
    }
    results.push(result!);
    contacts.push(...(await treatmentContacts(db, result!.runId, config.campaigns)));
  }
  return results;
}
