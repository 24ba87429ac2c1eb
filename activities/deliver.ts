import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import pLimit from 'p-limit';
import type { ActivityDeps } from './deps';
import { writeSnapshot } from '../relations/parquet';
import { deliveryFile } from '../relations/snapshots';
import { keyedHash } from '../transforms/normalize';
import { batchKey } from '../transforms/policies';
import { CHANNEL_FIELDS, contactRecord, localIsoWithOffset, type ContactFacts } from '../transforms/deliveryFields';
import { openTargetListXlsx } from './targetListXlsx';
import type { CampaignConfig, Channel, PortraitConfig } from '../config/schema';
import type { SnapshotFile } from '../shared';

export { sendAtIso } from '../transforms/deliveryFields';

interface ContactRow {
  idempotency_key: string;
  golden_id: string;
  template_id: string | null;
  send_at: Date | null;
  phone_hash: string | null;
  name_masked: string | null;
}

function contactFacts(piiKey: string, campaign: { id: string; name: string; channel: Channel }, row: ContactRow, timeZone?: string): ContactFacts {
  return {
    idempotency_key: row.idempotency_key,
    campaign_id: campaign.id,
    campaign_name: campaign.name,
    template_id: row.template_id ?? '',
    // Files for people carry the bank's local time with its offset; the webhook keeps the UTC instant it always sent.
    send_at: row.send_at ? (timeZone ? localIsoWithOffset(row.send_at, timeZone) : row.send_at.toISOString()) : '',
    phone_token: row.phone_hash,
    name_masked: row.name_masked,
    // Keyed per channel, so references from two channels cannot be joined without the bank's key.
    customer_ref: keyedHash(piiKey, `${campaign.channel}|${row.golden_id}`),
  };
}

/** Chinese column headers of the .xlsx target lists (the CSV keeps the field names systems read). */
const XLSX_HEADERS: Record<string, { header: string; width: number }> = {
  idempotency_key: { header: '幂等键', width: 34 },
  campaign_id: { header: '活动编号', width: 14 },
  campaign_name: { header: '活动名称', width: 30 },
  template_id: { header: '模板编号', width: 16 },
  send_at: { header: '发送时间', width: 21 },
  phone_token: { header: '手机号令牌', width: 34 },
  name_masked: { header: '姓名（脱敏）', width: 12 },
  customer_ref: { header: '客户参考号', width: 34 },
};

/**
 * The marketing files of one campaign: its treatment contacts as CSV (UTF-8 with BOM, CRLF, so Excel shows Chinese),
 * as .xlsx (Chinese headers, frozen header row, autofilter, tokens as text, send time as a local date-time) and as
 * Parquet, carrying only the fields its channel needs, plus a manifest with counts per arm and each file's sha256.
 * `send_at` is the local time in `timezone` with its offset (2026-12-21T10:00:00+08:00). Rows are streamed from the
 * ledger once and written to the three files as they come, so memory stays bounded whatever the list's size.
 */
export async function writeCampaignFiles(deps: ActivityDeps, runDir: string, runId: string, campaign: CampaignConfig, { asOf, timezone }: { asOf: string; timezone: string }): Promise<SnapshotFile[]> {
  const { db, env } = deps;
  const dir = path.join('deliveries', campaign.id);
  const base = `${campaign.id}_${campaign.channel}`;
  const fields = CHANNEL_FIELDS[campaign.channel];
  const csvPath = path.join(dir, `${base}.csv`);
  const xlsxPath = path.join(dir, `${base}.xlsx`);
  const csv = await openCsv(path.join(runDir, csvPath));
  const xlsx = await openTargetListXlsx(
    path.join(runDir, xlsxPath),
    campaign.id,
    fields.map((f) => ({ key: f, header: f === 'send_at' ? `${XLSX_HEADERS[f]!.header}（${timezone}）` : (XLSX_HEADERS[f]?.header ?? f), width: XLSX_HEADERS[f]?.width ?? 16, localTime: f === 'send_at' })),
    new Date(`${asOf}T00:00:00Z`),
  );
  let firstSendAt: string | null = null;
  async function* records(): AsyncIterable<Record<string, string | null>> {
    await csv.write('\uFEFF' + csvRow(fields));
    const rows = db('campaign.dispatch as d')
      .join('core.customers as cu', function () {
        this.on('cu.golden_id', '=', 'd.golden_id').andOn('cu.run_id', '=', 'd.run_id');
      })
      .where({ 'd.run_id': runId, 'd.campaign_id': campaign.id, 'd.arm': 'treatment' })
      .select('d.idempotency_key', 'd.golden_id', 'd.template_id', 'd.send_at', 'cu.phone_hash', 'cu.name_masked')
      .orderBy('d.idempotency_key')
      .stream() as AsyncIterable<ContactRow>;
    for await (const row of rows) {
      const record = contactRecord(campaign.channel, contactFacts(env.piiKey, campaign, row, timezone));
      firstSendAt ??= record.send_at ?? null;
      await csv.write(csvRow(fields.map((f) => record[f] ?? null)));
      xlsx.add(record);
      yield record;
    }
  }
  let parquet: SnapshotFile;
  try {
    parquet = await writeSnapshot(runDir, deliveryFile(fields), { rows: records() }, { file: path.join(dir, `${base}.parquet`) });
  } catch (err) {
    await Promise.all([csv.abort(), xlsx.abort()]);
    throw err;
  }
  const csvFile = { path: csvPath, rows: parquet.rows, sha256: await csv.finish() };
  const xlsxDone = await xlsx.finish();

  const arms = await db('campaign.dispatch').where({ run_id: runId, campaign_id: campaign.id }).select('arm', 'holdout').count<{ arm: string; holdout: string | null; n: string }[]>('* as n').groupBy('arm', 'holdout');
  const count = (arm: string, holdout: string | null) => Number(arms.find((a) => a.arm === arm && a.holdout === holdout)?.n ?? 0);
  const files = [csvFile, { path: xlsxPath, rows: xlsxDone.rows, sha256: xlsxDone.sha256 }, parquet];
  // No run id: a re-run of the same inputs must give a byte-identical manifest.
  const manifest = {
    campaign_id: campaign.id,
    campaign_name: campaign.name,
    channel: campaign.channel,
    template_id: campaign.templateId,
    send_at: firstSendAt,
    timezone,
    fields,
    counts: { treatment: count('treatment', null), control_global_holdout: count('control', 'global'), control_campaign_holdout: count('control', 'campaign') },
    files,
  };
  const manifestPath = path.join(dir, 'manifest.json');
  const manifestSha = await writeAtomically(path.join(runDir, manifestPath), JSON.stringify(manifest, null, 2) + '\n');
  return [...files, { path: manifestPath, rows: files.length, sha256: manifestSha }];
}

/** A CSV written through a stream (respecting backpressure), hashed as it goes, renamed into place at the end. */
async function openCsv(target: string) {
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.partial`;
  const out = createWriteStream(tmp, { encoding: 'utf8' });
  const hash = createHash('sha256');
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  return {
    async write(text: string) {
      hash.update(text, 'utf8');
      if (!out.write(text)) await Promise.race([once(out, 'drain'), failed]);
    },
    async finish(): Promise<string> {
      await Promise.race([new Promise<void>((resolve) => out.end(resolve)), failed]);
      await rename(tmp, target);
      return hash.digest('hex');
    },
    async abort() {
      out.destroy();
      await rm(tmp, { force: true });
    },
  };
}

async function writeAtomically(target: string, body: string): Promise<string> {
  await mkdir(path.dirname(target), { recursive: true });
  await writeFile(`${target}.partial`, body, 'utf8');
  await rename(`${target}.partial`, target);
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** Excel-friendly CSV row: quotes only where needed, CRLF line ends. */
function csvRow(values: readonly (string | null)[]): string {
  return values.map((v) => (v === null ? '' : /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)).join(',') + '\r\n';
}

export interface DeliverWebhookInput {
  asOf: string;
  campaign: { id: string; name: string; channel: Channel };
  url: string;
  options: Omit<PortraitConfig['delivery'], 'webhooks'>;
}

export interface DeliverWebhookResult {
  campaignId: string;
  channel: Channel;
  contacts: number;
  batches: number;
  /** Batches found already delivered (an earlier attempt or run of the same date). */
  skippedBatches: number;
  delivered: number;
  rejected: number;
  /** HTTP requests made, retries included. */
  requests: number;
}

/** 429, 5xx and network failures are worth retrying; any other 4xx will fail the same way again. */
function retryable(status: number): boolean {
  return status === 429 || status >= 500;
}

export function createDeliveryActivities(deps: ActivityDeps) {
  const { db, env, log } = deps;
  return {
    /**
     * Posts a campaign's queued contacts (campaign.deliveries, sink 'webhook') for one as-of date to its channel's
     * webhook in JSON batches, each with an Idempotency-Key derived from its contacts, so a batch resent after a
     * crash carries the same key. Batches are cut from the full ordered contact list (not only the pending ones)
     * so the cut is the same on every attempt. 429/5xx/timeouts retry with exponential backoff; other 4xx mark the
     * batch rejected without retry. Status is kept per contact; at most `concurrency` requests are in flight.
     */
    async deliverWebhook({ asOf, campaign, url, options }: DeliverWebhookInput): Promise<DeliverWebhookResult> {
      const ctx = Context.current();
      const target = redactUrl(url);
      const rows: (ContactRow & { status: string })[] = await db('campaign.deliveries as dl')
        .join('campaign.dispatch as d', function () {
          this.on('d.run_id', '=', 'dl.run_id').andOn('d.campaign_id', '=', 'dl.campaign_id').andOn('d.golden_id', '=', 'dl.golden_id');
        })
        .join('core.customers as cu', function () {
          this.on('cu.run_id', '=', 'dl.run_id').andOn('cu.golden_id', '=', 'dl.golden_id');
        })
        .where({ 'dl.sink': 'webhook', 'dl.campaign_id': campaign.id, 'dl.as_of': asOf, 'dl.channel': campaign.channel })
        .select('dl.idempotency_key', 'dl.status', 'dl.golden_id', 'd.template_id', 'd.send_at', 'cu.phone_hash', 'cu.name_masked')
        .orderBy('dl.idempotency_key');
      const batches: (typeof rows)[] = [];
      for (let i = 0; i < rows.length; i += options.batchSize) batches.push(rows.slice(i, i + options.batchSize));
      const result: DeliverWebhookResult = { campaignId: campaign.id, channel: campaign.channel, contacts: rows.length, batches: batches.length, skippedBatches: 0, delivered: 0, rejected: 0, requests: 0 };
      const limit = pLimit(options.concurrency);

      const post = async (batch: typeof rows): Promise<void> => {
        if (batch.every((r) => r.status !== 'pending')) {
          result.skippedBatches++;
          return;
        }
        const keys = batch.map((r) => r.idempotency_key);
        const key = batchKey(keys);
        const body = JSON.stringify({ batch_key: key, campaign_id: campaign.id, channel: campaign.channel, contacts: batch.map((r) => contactRecord(campaign.channel, contactFacts(env.piiKey, campaign, r))) });
        for (let attempt = 1; ; attempt++) {
          ctx.heartbeat({ delivered: result.delivered });
          result.requests++;
          let status = 0;
          let error = '';
          try {
            const res = await fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json', 'idempotency-key': key },
              body,
              signal: AbortSignal.timeout(options.requestTimeoutMs),
            });
            status = res.status;
            error = res.ok ? '' : (await res.text().catch(() => '')).slice(0, 200);
            if (!res.ok && !retryable(status)) {
              await mark(keys, key, 'rejected', attempt, status, `HTTP ${status}: ${error}`);
              result.rejected += batch.length;
              log.warn({ campaign_id: campaign.id, batch_key: key, status, url: target }, 'webhook rejected a batch; not retried');
              return;
            }
            if (res.ok) {
              await mark(keys, key, 'delivered', attempt, status, null);
              result.delivered += batch.length;
              return;
            }
          } catch (err) {
            error = (err as Error).name === 'TimeoutError' ? `timeout after ${options.requestTimeoutMs} ms` : (err as Error).message;
          }
          if (attempt >= options.maxAttempts) {
            await db('campaign.deliveries').whereIn('idempotency_key', keys).andWhere({ sink: 'webhook' }).update({ attempts: db.raw('attempts + ?', [attempt]), http_status: status || null, error: error.slice(0, 200) });
            // Retryable for Temporal: the activity's next attempt resends only the batches still pending.
            throw new Error(`webhook ${target} failed for batch ${key} after ${attempt} attempts: ${status ? `HTTP ${status}` : error}`);
          }
          await sleep(options.initialBackoffMs * 2 ** (attempt - 1));
        }
      };

      const mark = async (keys: string[], key: string, status: 'delivered' | 'rejected', attempts: number, httpStatus: number, error: string | null) => {
        await db('campaign.deliveries')
          .whereIn('idempotency_key', keys)
          .andWhere({ sink: 'webhook' })
          .update({ status, batch_key: key, attempts: db.raw('attempts + ?', [attempts]), http_status: httpStatus, error, delivered_at: status === 'delivered' ? db.fn.now() : null });
      };

      // Settle every batch before failing, so no request is still in flight when Temporal starts the next attempt.
      const settled = await Promise.allSettled(batches.map((b) => limit(() => post(b))));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      log.info({ url: target, ...result }, 'webhook delivery finished');
      return result;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Host and path only: query strings may carry tokens. */
function redactUrl(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname}`;
}
