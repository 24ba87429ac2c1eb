import type { Knex } from 'knex';
import { promoteModel } from '../activities/modelRegistry';
import { parseFlags, UsageError } from './args';

/** Text and JSON views of the model registry for `portrait model list|show|promote`. */
export async function modelRegistryCommand(db: Knex, sub: 'list' | 'show' | 'promote', rest: string[], write: (s: string) => void): Promise<number> {
  const json = (v: unknown) => write(JSON.stringify(v, null, 2) + '\n');
  if (sub === 'list') {
    const { values } = parseFlags(rest, {}, 0);
    const models = await db('audit.models')
      .select('model_version', 'product', 'status', 'training_rows', 'training_until', 'holdout_from', 'metrics', 'excluded_features', 'trained_by_run', 'created_at', 'promoted_at')
      .orderBy([{ column: 'product' }, { column: 'created_at', order: 'desc' }, { column: 'model_version' }]);
    if (values.json) {
      json(models.map((m) => ({ ...m, metrics: { holdout_auc: m.metrics.holdout_auc ?? null, champion_holdout_auc: m.metrics.champion_holdout_auc ?? null, oob_auc: m.metrics.oob_auc ?? null } })));
      return 0;
    }
    for (const m of models) {
      write(
        `${m.model_version.padEnd(28)} ${m.product.padEnd(14)} ${m.status.padEnd(9)} rows ${String(m.training_rows).padStart(6)} until ${m.training_until ?? '-'}  ` +
          `holdout AUC ${fmt(m.metrics.holdout_auc)} (champion ${fmt(m.metrics.champion_holdout_auc)})  OOB ${fmt(m.metrics.oob_auc)}  run ${m.trained_by_run}\n`,
      );
    }
    return 0;
  }
  if (sub === 'show') {
    const { positionals } = parseFlags(rest, {}, 1);
    if (!positionals[0]) throw new UsageError('MODEL_VERSION is required');
    const m = await db('audit.models').where({ model_version: positionals[0] }).first();
    if (!m) throw new UsageError(`no model ${positionals[0]}; see portrait model list`);
    const events = await db('audit.model_events').where({ model_version: m.model_version }).orderBy('event_id').select('event', 'reason', 'detail', 'run_id', 'champion_version', 'candidate_auc', 'champion_auc', 'holdout_rows', 'created_at');
    json({ ...m, events });
    return 0;
  }
  const { values, positionals } = parseFlags(rest, { force: { type: 'boolean' }, reason: { type: 'string' } }, 1);
  if (!positionals[0]) throw new UsageError('MODEL_VERSION is required');
  const actor = process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  const result = await promoteModel(db, positionals[0], { force: values.force, reason: values.reason, actor });
  if (values.json) json({ model_version: positionals[0], ...result });
  else write(`${positionals[0]} is now the ${result.product} champion${result.previous ? ` (was ${result.previous}, now retired)` : ''}\n`);
  return 0;
}

function fmt(x: unknown): string {
  return typeof x === 'number' ? x.toFixed(4) : '-';
}
