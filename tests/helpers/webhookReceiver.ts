import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedBatch {
  batchKey: string;
  headerKey: string | undefined;
  contacts: Record<string, string | null>[];
}

/** What the receiver answers for a request, before (maybe) processing it. */
export type Script = (req: { n: number; batchKey: string; seenBefore: number }) => { status: number; delayMs?: number } | undefined;

/**
 * A real HTTP endpoint standing in for a channel gateway: dedups batches by their Idempotency-Key header (a
 * repeated key is acknowledged, not processed again) and counts how often each contact was processed.
 */
export interface WebhookReceiver {
  url: string;
  /** Times each contact idempotency key was processed (should be 1). */
  processedContacts: Map<string, number>;
  processedBatches: ReceivedBatch[];
  /** Requests whose Idempotency-Key was already processed. */
  duplicateRequests: number;
  requests: number;
  /** Called after a batch is processed and before its response is sent. */
  onProcessed?: (batch: ReceivedBatch) => void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(opts: { delayMs?: number; script?: Script } = {}): Promise<WebhookReceiver> {
  const seen = new Map<string, number>();
  const receiver: WebhookReceiver = {
    url: '',
    processedContacts: new Map(),
    processedBatches: [],
    duplicateRequests: 0,
    requests: 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        receiver.requests++;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch_key: string; contacts: Record<string, string | null>[] };
        const headerKey = req.headers['idempotency-key'] as string | undefined;
        const key = headerKey ?? '';
        const scripted = opts.script?.({ n: receiver.requests, batchKey: body.batch_key, seenBefore: seen.get(key) ?? 0 });
        seen.set(key, (seen.get(key) ?? 0) + 1);
        const delay = scripted?.delayMs ?? opts.delayMs ?? 0;
        if (scripted && scripted.status !== 200) {
          if (delay) await new Promise((r) => setTimeout(r, delay));
          res.writeHead(scripted.status, { 'content-type': 'text/plain' }).end(`scripted ${scripted.status}`);
          return;
        }
        const done = receiver.processedBatches.some((b) => b.headerKey === headerKey);
        if (done) {
          receiver.duplicateRequests++;
        } else {
          const batch = { batchKey: body.batch_key, headerKey, contacts: body.contacts };
          receiver.processedBatches.push(batch);
          for (const c of body.contacts) receiver.processedContacts.set(c.idempotency_key!, (receiver.processedContacts.get(c.idempotency_key!) ?? 0) + 1);
          receiver.onProcessed?.(batch);
        }
        // The response comes after processing: a sender killed meanwhile has delivered without knowing it.
        if (delay) await new Promise((r) => setTimeout(r, delay));
        if (!res.destroyed) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ accepted: body.contacts.length, duplicate: done }));
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/batches`;
  return receiver;
}
