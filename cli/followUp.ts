import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Knex } from 'knex';
import type { PortraitConfig } from '../config/schema';
import { generateSourceExtracts, type ChannelContact } from '../generator/generate';
import { durationMs } from '../transforms/duration';
import { SIGNAL_COLLECT_NOW, WORKFLOW_DAILY_RUN, type DailyRunInput, type DailyRunResult } from '../shared';

/**
 * What the channel systems report back after a dispatch: the treatment contacts of a run by source customer key
 * and product (one per source record of the golden customer). Feeds the generator's follow-up extract.
 */
export async function treatmentContacts(db: Knex, runId: string, campaigns: readonly { id: string; product: string }[]): Promise<ChannelContact[]> {
  const products = new Map(campaigns.map((c) => [c.id, c.product]));
  const rows = await db('campaign.dispatch as d')
    .join('core.customer_sources as s', function () {
      this.on('s.run_id', '=', 'd.run_id').andOn('s.golden_id', '=', 'd.golden_id');
    })
    .where({ 'd.run_id': runId, 'd.arm': 'treatment' })
    .select('s.customer_key', 'd.campaign_id', db.raw("to_char(d.as_of, 'YYYY-MM-DD') as contacted_on"))
    .orderBy(['s.customer_key', 'd.campaign_id']);
  return rows.filter((r) => products.has(r.campaign_id)).map((r) => ({ customerKey: r.customer_key, product: products.get(r.campaign_id)!, contactedOn: r.contacted_on }));
}

/**
 * The demo's second day: the extracts of the same bank `window` days later (products opened since, more among the
 * treated), a daily run over them, then every outcome workflow of both runs is told to collect (the first run's
 * windows are now fully observed; the second's are not, and say so).
 */
export async function runFollowUpDay(opts: {
  db: Knex;
  client: Client;
  taskQueue: string;
  day0: DailyRunResult;
  config: PortraitConfig;
  customers: number;
  seed: number;
  dataDir: string;
  newRunInput: (asOf: string, inputDir: string) => DailyRunInput;
}): Promise<DailyRunResult> {
  const { db, client, taskQueue, day0, config } = opts;
  const windowDays = Math.floor(durationMs(config.outcomes.attributionWindow) / 86_400_000);
  const laterAsOf = new Date(Date.parse(`${day0.asOf}T00:00:00Z`) + windowDays * 86_400_000).toISOString().slice(0, 10);
  const contacts = await treatmentContacts(db, day0.runId, config.campaigns);
  const inputDir = path.join(opts.dataDir, `${laterAsOf}-n${opts.customers}-s${opts.seed}-after-${day0.runId}`);
  await generateSourceExtracts({ customers: opts.customers, seed: opts.seed, outDir: inputDir, asOf: laterAsOf, followUp: { baseAsOf: day0.asOf, contacts } });
  const input = { ...opts.newRunInput(laterAsOf, inputDir), awaitOutcomes: false };
  const day1: DailyRunResult = await (await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue, workflowId: `dailyRun-${input.runId}`, args: [input] })).result();
  const ids = [...day0.outcomeWorkflowIds, ...day1.outcomeWorkflowIds];
  for (const id of ids) await client.workflow.getHandle(id).signal(SIGNAL_COLLECT_NOW);
  await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()));
  return day1;
}
