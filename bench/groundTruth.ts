/**
 * Entity-resolution measurement against the generator's ground truth (ground_truth.csv: source_system,
 * customer_key, person_id), shared by `npm run bench:er` and the integration test.
 */
import { createReadStream } from 'node:fs';
import { ensureLandingPartition } from '../db/landing';
import { knexRunner } from '../activities/pg';
import path from 'node:path';
import { parse } from 'csv-parse';
import type { Knex } from 'knex';
import { pairwiseMetrics, type PairwiseMetrics } from '../transforms/entityResolution';
import { parseAmount, parseDate } from '../transforms/normalize';

async function* csvRecords(file: string): AsyncIterable<Record<string, string>> {
  yield* createReadStream(file).pipe(parse({ columns: true, relax_quotes: false })) as AsyncIterable<Record<string, string>>;
}

/**
 * Lands customers.csv of a generated folder into landing.customers for a run, the way the ingest stage does for
 * this file at default dirt: a repeated primary key keeps its first row; unreadable dates and amounts become
 * null (their contract says nullOnInvalid). Returns rows read and rows landed.
 */
export async function landGeneratedCustomers(db: Knex, runId: string, dir: string): Promise<{ rows_in: number; landed: number }> {
  await ensureLandingPartition(knexRunner(db), 'customers', runId);
  const seen = new Set<string>();
  let rowsIn = 0;
  let batch: Record<string, unknown>[] = [];
  const flush = async () => {
    if (batch.length) await db.batchInsert('landing.customers', batch, 2000);
    batch = [];
  };
  for await (const r of csvRecords(path.join(dir, 'customers.csv'))) {
    rowsIn++;
    const key = `${r.source_system}:${r.customer_key}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const orNull = (v: string | undefined) => (v === undefined || v === '' ? null : v);
    batch.push({
      run_id: runId,
      row_number: rowsIn,
      source_system: r.source_system,
      customer_key: r.customer_key,
      name: orNull(r.name),
      id_number: orNull(r.id_number),
      phone: orNull(r.phone),
      birth_date: orNull(r.birth_date),
      gender: orNull(r.gender),
      city: orNull(r.city),
      occupation: orNull(r.occupation),
      annual_income: parseAmount(orNull(r.annual_income)),
      opened_at: parseDate(orNull(r.opened_at)),
    });
    if (batch.length >= 10_000) await flush();
  }
  await flush();
  return { rows_in: rowsIn, landed: seen.size };
}

export interface ErMeasurement extends PairwiseMetrics {
  persons: number;
  golden_customers: number;
}

/** Pairwise precision and recall of a run's lineage (core.customer_sources) against ground_truth.csv. */
export async function measureAgainstGroundTruth(db: Knex, runId: string, dir: string): Promise<ErMeasurement> {
  const person = new Map<string, string>();
  for await (const r of csvRecords(path.join(dir, 'ground_truth.csv'))) person.set(`${r.source_system}:${r.customer_key}`, r.person_id!);
  const rows = await db('core.customer_sources').where({ run_id: runId }).select('source_system', 'customer_key', 'golden_id');
  const missing = rows.filter((r) => !person.has(`${r.source_system}:${r.customer_key}`));
  if (missing.length) throw new Error(`${missing.length} resolved source keys are not in ground_truth.csv (e.g. ${missing[0].source_system}:${missing[0].customer_key})`);
  const records = rows.map((r) => ({ truth: person.get(`${r.source_system}:${r.customer_key}`)!, predicted: r.golden_id as string }));
  const metrics = pairwiseMetrics(records);
  return { ...metrics, persons: new Set(records.map((r) => r.truth)).size, golden_customers: new Set(records.map((r) => r.predicted)).size };
}
