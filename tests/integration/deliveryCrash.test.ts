import path from 'node:path';
import { configSha256, loadConfig } from '../../config/load';
import type { PortraitConfig } from '../../config/schema';
import { generateSourceExtracts } from '../../generator/generate';
import { WORKFLOW_DAILY_RUN, type DailyRunInput } from '../../shared';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhookReceiver';
import { spawnPortraitWorker, type WorkerChild } from '../helpers/workerChild';

const AS_OF = '2026-11-20';
let ctx: TestContext;
let receiver: WebhookReceiver;
let child: WorkerChild | undefined;

beforeAll(async () => {
  ctx = await createTestContext('crash');
  receiver = await startWebhookReceiver({ delayMs: 150 });
});

afterAll(async () => {
  if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
  await receiver?.close();
  await ctx?.close();
});

test('kill -9 of the worker in the middle of a webhook dispatch: after restart every contact is delivered exactly once', async () => {
  const inputDir = path.join(ctx.workDir, 'extracts');
  await generateSourceExtracts({ customers: 600, seed: 5, outDir: inputDir, asOf: AS_OF });
  const base = loadConfig();
  const config = {
    ...base,
    delivery: { ...base.delivery, batchSize: 4, concurrency: 2, webhooks: { sms: { url: receiver.url }, app_push: { url: receiver.url } } },
    outcomes: { attributionWindow: '1s' },
  } as PortraitConfig;
  const input: DailyRunInput = { runId: 'crash-run', asOf: AS_OF, inputDir, config, configSha256: configSha256(config), awaitOutcomes: true };

  child = spawnPortraitWorker(ctx);
  const { exited } = child;
  const handle = await ctx.client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue: ctx.taskQueue, workflowId: 'dailyRun-crash-run', args: [input] });

  // Kill as soon as the receiver has processed a few batches: the batch that triggered this is processed but not yet answered.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no webhook batch within 5 minutes; worker output:\n${child!.output().slice(-3000)}`)), 300_000);
    receiver.onProcessed = () => {
      if (receiver.processedBatches.length >= 3) {
        clearTimeout(timer);
        receiver.onProcessed = undefined;
        child!.proc.kill('SIGKILL');
        resolve();
      }
    };
    void exited.then(() => {
      if (receiver.onProcessed) reject(new Error(`worker exited early:\n${child!.output().slice(-3000)}`));
    });
  });
  await exited;
  const processedAtKill = receiver.processedContacts.size;

  await ctx.startWorker();
  await handle.result();

  const treatment = await ctx.db('campaign.dispatch').where({ run_id: 'crash-run', arm: 'treatment' }).whereIn('channel', ['sms', 'app_push']).pluck('idempotency_key');
  expect(treatment.length).toBeGreaterThan(20);
  expect(processedAtKill).toBeLessThan(treatment.length);
  // None missing, none twice.
  expect([...receiver.processedContacts.keys()].sort()).toEqual([...treatment].sort());
  expect(Math.max(...receiver.processedContacts.values())).toBe(1);
  // At least one batch was processed before the kill and sent again after it (same Idempotency-Key, dropped by the receiver).
  expect(receiver.duplicateRequests).toBeGreaterThanOrEqual(1);
  const statuses = await ctx.db('campaign.deliveries').select('status').count<{ status: string; n: string }[]>('* as n').groupBy('status');
  expect(statuses.map((s) => [s.status, Number(s.n)])).toEqual([['delivered', treatment.length]]);
  // The delivery activity really ran again on the new worker.
  const history = await handle.fetchHistory();
  const attempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
  expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2);
  // eslint-disable-next-line no-console
  console.log('crash test', JSON.stringify({ contacts: treatment.length, processedAtKill, duplicateRequests: receiver.duplicateRequests, requests: receiver.requests }));
});
