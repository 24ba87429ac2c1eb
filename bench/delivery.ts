/**
 * Benchmark of campaign arbitration and webhook delivery: `npm run bench:delivery -- [--pairs N] [--contacts N]`.
 * Prints one JSON object. Arbitration: N synthetic customer×campaign pairs (3 campaigns, pure function, time and
 * heap). Delivery: N queued contacts in a dedicated database posted by the deliverWebhook activity to a local
 * HTTP receiver that answers at once, for a few batch sizes and concurrency limits (contacts/s, requests).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { readEnv } from '../config/env';
import type { CampaignConfig } from '../config/schema';
import { createDb, migrate } from '../db/knex';
import { createActivities } from '../activities';
import type { DeliverWebhookResult } from '../activities/deliver';
import { createLogger } from '../services/logger';
import { dropDatabase, ensureDatabase, ensurePostgres, withDatabase } from '../services/postgres';
import { arbitrate, stableUnit, type EligiblePair } from '../transforms/policies';

const AS_OF = '2026-11-20';

function arbitrationBench(pairs: number) {
  const campaign = (id: string, priority: number, valuePerConversion: number): CampaignConfig => ({
    id, name: id, product: 'consumer_loan', segments: ['s'], triggers: [], channel: 'sms', costPerContact: 0.05, valuePerConversion,
    budget: Math.floor(pairs / 6), minScore: 0, holdoutShare: 0.1, priority, templateId: 't', sendTime: '10:00',
  });
  const campaigns = [campaign('a', 1, 800), campaign('b', 2, 300), campaign('c', 2, 500)];
  const customers = Math.ceil(pairs / 2);
  const input: EligiblePair[] = Array.from({ length: pairs }, (_, i) => ({ campaignId: campaigns[i % 3]!.id, goldenId: `G${String(i % customers).padStart(9, '0')}`, score: stableUnit('b', String(i)) }));
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const selections = arbitrate(input, campaigns);
  const seconds = (performance.now() - t0) / 1000;
  const heapDeltaMb = Math.round((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20);
  return { pairs, customers, seconds: round(seconds), selected: selections.filter((s) => s.reason === null).length, heap_delta_mb: heapDeltaMb };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { pairs: { type: 'string', default: '1000000' }, contacts: { type: 'string', default: '20000' } } });
  const contacts = Number(values.contacts);
  const arbitration = arbitrationBench(Number(values.pairs));

  const env = readEnv();
  const log = createLogger('silent');
  const pg = await ensurePostgres(env, log);
  const database = 'portrait_bench_delivery';
  const admin = withDatabase(pg.url, 'postgres');
  await dropDatabase(admin, database);
  await ensureDatabase(admin, database);
  const url = withDatabase(pg.url, database);
  const db = createDb(url, 4);
  let received = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received += (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { contacts: unknown[] }).contacts.length;
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const target = `http://127.0.0.1:${(server.address() as AddressInfo).port}/batches`;
  try {
    await migrate(db);
    await db.raw(
      `insert into core.customers (run_id, golden_id, source_keys, id_valid, phone_hash, name_masked)
       select 'bench', 'G' || i, 'core:C' || i, true, md5(i::text), '张*' from generate_series(1, ?) i`,
      [contacts],
    );
    await db.raw(
      `insert into campaign.dispatch (run_id, as_of, campaign_id, golden_id, channel, arm, score, idempotency_key, delivery_status, template_id, send_at)
       select 'bench', ?, 'bench_sms', 'G' || i, 'sms', 'treatment', 0.5, md5('k' || i), 'delivered_file', 'T1', now() from generate_series(1, ?) i`,
      [AS_OF, contacts],
    );
    const activities = createActivities({ db, databaseUrl: url, log, env, codeVersion: 'bench' });
    const runs = [];
    for (const [batchSize, concurrency] of [[50, 1], [100, 4], [500, 4], [100, 16]] as const) {
      await db('campaign.deliveries').delete();
      await db.raw(
        `insert into campaign.deliveries (idempotency_key, sink, run_id, as_of, campaign_id, golden_id, channel, status)
         select idempotency_key, 'webhook', run_id, as_of, campaign_id, golden_id, channel, 'pending' from campaign.dispatch where run_id = 'bench'`,
      );
      received = 0;
      const t0 = performance.now();
      const result: DeliverWebhookResult = await new MockActivityEnvironment().run(activities.deliverWebhook, {
        asOf: AS_OF,
        campaign: { id: 'bench_sms', name: 'bench', channel: 'sms' as const },
        url: target,
        options: { batchSize, concurrency, maxAttempts: 3, initialBackoffMs: 100, requestTimeoutMs: 10_000 },
      });
      const seconds = (performance.now() - t0) / 1000;
      runs.push({ batch_size: batchSize, concurrency, seconds: round(seconds), contacts_per_s: Math.round(result.delivered / seconds), requests: result.requests, received });
    }
    process.stdout.write(JSON.stringify({ arbitration, delivery: { contacts, runs }, load_avg_start: round(require('node:os').loadavg()[0]) }) + '\n');
  } finally {
    server.close();
    await db.destroy();
    await dropDatabase(admin, database);
    await pg.stop();
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

main().catch((err) => {
  process.stderr.write(`bench:delivery failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
