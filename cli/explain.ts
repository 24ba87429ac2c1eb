import { readEnv } from '../config/env';
import { createDb } from '../db/knex';
import { createLogger } from '../services/logger';
import { startStack } from '../services/stack';
import { explainCustomer, NotFound, type Explanation } from '../audit/explain';
import { parseFlags, UsageError } from './args';

export const EXPLAIN_HELP = `Usage: portrait explain --run RUN_ID --customer KEY [--json]

Follows one customer through one run from what that run stored (nothing recomputed): the source records that formed
the golden customer (system, key, link rule and score; PII masked), the tags with Chinese and English names, trigger
events, the segment and the rule that matched first, each product's score with model version and reason codes, and
per campaign: evaluated or why not, the first failed policy with the facts that failed it, or the selection (arm,
holdout, idempotency key, proof of consent, delivery status, outcome). KEY is a golden id or a source customer key
(SYSTEM:KEY when the key exists in two systems). Exit 1 with one line for an unknown run or customer.`;

export async function explainCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { run: { type: 'string' }, customer: { type: 'string' } });
  if (!values.run) throw new UsageError('--run RUN_ID is required');
  if (!values.customer) throw new UsageError('--customer KEY is required');
  const env = readEnv();
  const stack = await startStack(env, createLogger(env.logLevel), { temporal: false });
  const db = createDb(stack.databaseUrl, 2);
  try {
    const explanation = await explainCustomer(db, values.run, values.customer);
    if (values.json) process.stdout.write(JSON.stringify(explanation, null, 2) + '\n');
    else process.stdout.write(explanationText(explanation));
    return 0;
  } catch (err) {
    if (err instanceof NotFound) {
      process.stderr.write(`portrait: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await db.destroy();
    await stack.stop();
  }
}

export function explanationText(e: Explanation): string {
  const lines: string[] = [];
  const facts = (f: Record<string, unknown> | null) => (f ? ' ' + Object.entries(f).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('|') : v}`).join(' ') : '');
  lines.push(`Run ${e.run_id} (as of ${e.as_of}) · ${e.customer.matched_as === 'golden_id' ? 'golden id' : 'source key'} ${e.customer.key} → ${e.customer.golden_id}${e.customer.name_masked ? ` (${e.customer.name_masked})` : ''}`);
  lines.push('Source records:');
  for (const s of e.sources) lines.push(`  ${s.system.padEnd(14)} ${s.key.padEnd(16)} linked by ${s.rule}${s.score === null ? '' : ` (score ${s.score})`}${s.findings ? `  findings: ${s.findings}` : ''}`);
  if (e.segment) lines.push(`Segment: ${e.segment.id} (priority ${e.segment.priority}, first rule matched: ${e.segment.rule})${e.segment.also_matched.length ? `; also matches ${e.segment.also_matched.join(', ')}` : ''}`);
  if (e.triggers.length) lines.push(`Trigger events: ${e.triggers.map((t) => `${t.event} (${t.previous_value} → ${t.current_value})`).join(', ')}`);
  lines.push('Scores:');
  for (const s of e.scores) lines.push(`  ${s.product.padEnd(14)} ${s.score.toFixed(4)}  decile ${s.decile}  model ${s.model_version}  reasons ${s.reasons ?? '-'}`);
  lines.push('Campaigns:');
  for (const c of e.campaigns) {
    const head = `  ${c.campaign_id} (${c.product}, ${c.channel}): `;
    if (!c.evaluated) lines.push(`${head}not evaluated: ${c.reason}`);
    else if (!c.selected) lines.push(`${head}excluded by ${c.reason}${facts(c.facts)}`);
    else {
      const outcome = c.outcome ? (c.outcome.converted ? `converted ${c.outcome.converted_at}` : 'not converted') : 'outcome not yet attributed';
      lines.push(`${head}selected, ${c.arm}${c.holdout ? ` (${c.holdout} holdout)` : ''}, key ${c.idempotency_key}, consent ${c.consent_id ?? '-'} at ${c.consent_recorded_at ?? '-'}, delivery ${c.delivery_status}${c.deliveries.map((d) => ` / ${d.sink} ${d.status}`).join('')}, ${outcome}`);
    }
  }
  lines.push('Tags:');
  for (const t of e.tags) lines.push(`  ${t.id.padEnd(28)} ${t.name_zh} / ${t.name_en}: ${t.value === null ? '-' : String(t.value)}`);
  return lines.join('\n') + '\n';
}
