import { MockActivityEnvironment } from '@temporalio/testing';
import type { Knex } from 'knex';
import { createActivities } from '../../activities';
import { createLogger } from '../../services/logger';
import { batchKey, idempotencyKey } from '../../transforms/policies';
import { CHANNEL_FIELDS } from '../../transforms/deliveryFields';
import { createTestContext, type TestContext } from '../helpers/testContext';
import { startWebhookReceiver, type Script, type WebhookReceiver } from '../helpers/webhookReceiver';

const RUN = 'deliver-run';
const AS_OF = '2026-11-20';
const CAMPAIGN = { id: 'cl_test_sms', name: '消费贷测试 / Loan test', channel: 'sms' as const };
const CONTACTS = 10;
const options = { batchSize: 3, concurrency: 2, maxAttempts: 3, initialBackoffMs: 5, requestTimeoutMs: 300 };

let ctx: TestContext;
let db: Knex;
let activities: ReturnType<typeof createActivities>;
let receiver: WebhookReceiver | undefined;
const keys = Array.from({ length: CONTACTS }, (_, i) => idempotencyKey(CAMPAIGN.id, AS_OF, `G${i}`));
/** The batches the activity must cut: the contacts ordered by key, in threes. */
const sorted = [...keys].sort();
const expectedBatches = [0, 3, 6, 9].map((i) => sorted.slice(i, i + 3));

beforeAll(async () => {
  ctx = await createTestContext('deliver');
  db = ctx.db;
  activities = createActivities({ db, databaseUrl: ctx.databaseUrl, log: createLogger('silent'), env: ctx.env, codeVersion: 'test' });
  await db('core.customers').insert(keys.map((_, i) => ({ run_id: RUN, golden_id: `G${i}`, source_keys: `core:C${i}`, id_valid: true, phone_hash: `ph${i}`, name_masked: '张*' })));
  await db('campaign.dispatch').insert(
    keys.map((key, i) => ({
      run_id: RUN, as_of: AS_OF, campaign_id: CAMPAIGN.id, golden_id: `G${i}`, channel: 'sms', arm: 'treatment', score: 0.5, idempotency_key: key,
      consent_id: `CS${i}`, consent_recorded_at: new Date('2026-01-01T00:00:00Z'), delivery_status: 'delivered_file', template_id: 'SMS_T1', send_at: new Date('2026-11-21T02:00:00Z'),
    })),
  );
});

beforeEach(async () => {
  await db('campaign.deliveries').delete();
  await db('campaign.deliveries').insert(keys.map((key, i) => ({ idempotency_key: key, sink: 'webhook', run_id: RUN, as_of: AS_OF, campaign_id: CAMPAIGN.id, golden_id: `G${i}`, channel: 'sms', status: 'pending' })));
});

afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

afterAll(async () => {
  await ctx?.close();
});

function deliver(url: string) {
  return new MockActivityEnvironment().run(activities.deliverWebhook, { asOf: AS_OF, campaign: CAMPAIGN, url, options });
}

async function statuses(): Promise<Record<string, { status: string; attempts: number; http_status: number | null }>> {
  const rows = await db('campaign.deliveries').select('idempotency_key', 'status', 'attempts', 'http_status');
  return Object.fromEntries(rows.map((r) => [r.idempotency_key, { status: r.status, attempts: r.attempts, http_status: r.http_status }]));
}

test('posts every contact once in deterministic batches keyed by their contacts, with only the sms fields and no raw phone', async () => {
  receiver = await startWebhookReceiver();
  const result = await deliver(receiver.url);
  expect(result).toMatchObject({ contacts: CONTACTS, batches: 4, delivered: CONTACTS, rejected: 0, requests: 4, skippedBatches: 0 });
  expect(receiver.processedBatches.map((b) => b.headerKey).sort()).toEqual(expectedBatches.map((b) => batchKey(b)).sort());
  for (const b of receiver.processedBatches) {
    expect(b.headerKey).toBe(b.batchKey);
    for (const c of b.contacts) expect(Object.keys(c)).toEqual([...CHANNEL_FIELDS.sms]);
  }
  expect([...receiver.processedContacts.keys()].sort()).toEqual(sorted);
  expect(Math.max(...receiver.processedContacts.values())).toBe(1);
  expect(receiver.processedBatches[0]!.contacts[0]).toMatchObject({ campaign_name: CAMPAIGN.name, template_id: 'SMS_T1', send_at: '2026-11-21T02:00:00.000Z' });
  expect(Object.values(await statuses()).every((s) => s.status === 'delivered' && s.attempts === 1 && s.http_status === 200)).toBe(true);

  // A second attempt (or a re-run of the date) finds everything delivered and sends nothing.
  const again = await deliver(receiver.url);
  expect(again).toMatchObject({ delivered: 0, requests: 0, skippedBatches: 4 });
  expect(receiver.requests).toBe(4);
});

test('retries 503, 429 and timeouts with backoff; a 400 is rejected without retry', async () => {
  const [b0, b1, b2, b3] = expectedBatches.map((b) => batchKey(b));
  const script: Script = ({ batchKey: key, seenBefore }) => {
    if (key === b0 && seenBefore === 0) return { status: 503 };
    if (key === b1 && seenBefore < 2) return { status: 429 };
    if (key === b2) return { status: 400 };
    if (key === b3 && seenBefore === 0) return { status: 200, delayMs: 1000 }; // longer than requestTimeoutMs
    return undefined;
  };
  receiver = await startWebhookReceiver({ script });
  const result = await deliver(receiver.url);
  expect(result).toMatchObject({ delivered: 7, rejected: 3, requests: 2 + 3 + 1 + 2 });
  const s = await statuses();
  for (const k of expectedBatches[0]!) expect(s[k]).toEqual({ status: 'delivered', attempts: 2, http_status: 200 });
  for (const k of expectedBatches[1]!) expect(s[k]).toEqual({ status: 'delivered', attempts: 3, http_status: 200 });
  for (const k of expectedBatches[2]!) expect(s[k]).toEqual({ status: 'rejected', attempts: 1, http_status: 400 });
  expect(s[expectedBatches[3]![0]!]).toEqual({ status: 'delivered', attempts: 2, http_status: 200 });
  // The timed-out first request was processed by the receiver; the retry with the same key was not processed again.
  expect(receiver.duplicateRequests).toBe(1);
  expect(Math.max(...receiver.processedContacts.values())).toBe(1);
  expect(receiver.processedContacts.size).toBe(7);
});

test('a gateway down for longer than maxAttempts fails the attempt; the next attempt sends only what is still pending', async () => {
  const [b0] = expectedBatches.map((b) => batchKey(b));
  let down = true;
  receiver = await startWebhookReceiver({ script: ({ batchKey: key }) => (down && key === b0 ? { status: 502 } : undefined) });
  await expect(deliver(receiver.url)).rejects.toThrow(/failed for batch [0-9a-f]{32} after 3 attempts: HTTP 502/);
  expect(Object.values(await statuses()).filter((s) => s.status === 'pending')).toHaveLength(3);
  down = false;
  const before = receiver.requests;
  const result = await deliver(receiver.url);
  expect(result).toMatchObject({ delivered: 3, skippedBatches: 3, requests: 1 });
  expect(receiver.requests - before).toBe(1);
  expect(receiver.processedContacts.size).toBe(CONTACTS);
  expect(Math.max(...receiver.processedContacts.values())).toBe(1);
});
