import { readFileSync } from 'node:fs';
import { readEnv } from '../config/env';
import { createDb } from '../db/knex';
import { createLogger } from '../services/logger';
import { startStack } from '../services/stack';
import { parseFlags, UsageError } from './args';

export const SUPPRESSION_TABLE_LISTS = ['deceased', 'do_not_contact', 'staff'] as const;

export const SUPPRESS_HELP = `Usage: portrait suppress add --list LIST (--key KEY | --file FILE) [--note TEXT] [--json]
       portrait suppress remove --list LIST (--key KEY | --file FILE) [--json]
       portrait suppress list [--json]

Compliance suppression lists (campaign.suppressions), by source customer key: LIST is deceased, do_not_contact or
staff. A key on a list is never dispatched by a run registered after it was added, whatever the as-of date; remove
lifts it (the row is kept with removed_at; every change is also logged in campaign.suppression_events). FILE holds one customer key per line (a header "customer_key" is skipped).
Complaints suppress by themselves (complaints source, 90 days).`;

/** Customer keys from a text file: one per line, blank lines and a customer_key header skipped; bad lines are named. */
export function parseKeyFile(text: string, file: string): string[] {
  const keys: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\uFEFF/, '').trim();
    if (!line || (i === 0 && line === 'customer_key')) return;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(line)) throw new UsageError(`${file}:${i + 1}: not a customer key: "${line.slice(0, 40)}"`);
    keys.push(line);
  });
  if (keys.length === 0) throw new UsageError(`${file}: no customer keys`);
  return [...new Set(keys)];
}

export async function suppressCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'add' && sub !== 'remove' && sub !== 'list') throw new UsageError('suppress needs a subcommand: add, remove or list');
  const { values } = parseFlags(rest, sub === 'list' ? {} : { list: { type: 'string' }, key: { type: 'string', multiple: true }, file: { type: 'string' }, note: { type: 'string' } });
  const v = values as { list?: string; key?: string[]; file?: string; note?: string; json?: boolean };
  let keys: string[] = [];
  if (sub !== 'list') {
    if (!v.list || !(SUPPRESSION_TABLE_LISTS as readonly string[]).includes(v.list)) throw new UsageError(`--list must be one of ${SUPPRESSION_TABLE_LISTS.join(', ')}`);
    if (!v.key === !v.file) throw new UsageError('give either --key (repeatable) or --file');
    keys = v.file ? parseKeyFile(readText(v.file), v.file) : parseKeyFile(v.key!.join('\n'), '--key');
  }
  const env = readEnv();
  const stack = await startStack(env, createLogger(env.logLevel), { temporal: false });
  const db = createDb(stack.databaseUrl, 2);
  try {
    let result: unknown;
    if (sub === 'add') {
      // Re-adding a removed key puts it back on the list.
      const rows = keys.map((customer_key) => ({ list: v.list, customer_key, note: v.note ?? null, added_at: db.fn.now(), removed_at: null }));
      for (let i = 0; i < rows.length; i += 1000) await db('campaign.suppressions').insert(rows.slice(i, i + 1000)).onConflict(['list', 'customer_key']).merge(['note', 'added_at', 'removed_at']);
      result = { list: v.list, added: keys.length };
    } else if (sub === 'remove') {
      const removed = await db('campaign.suppressions').where({ list: v.list }).whereIn('customer_key', keys).whereNull('removed_at').update({ removed_at: db.fn.now() });
      result = { list: v.list, removed };
    } else {
      const counts = await db('campaign.suppressions').whereNull('removed_at').select('list').count<{ list: string; n: string }[]>('* as n').groupBy('list').orderBy('list');
      result = Object.fromEntries(SUPPRESSION_TABLE_LISTS.map((l) => [l, Number(counts.find((c) => c.list === l)?.n ?? 0)]));
    }
    process.stdout.write((v.json ? JSON.stringify(result, null, 2) : Object.entries(result as Record<string, unknown>).map(([k, x]) => `${k}: ${x}`).join('\n')) + '\n');
    return 0;
  } finally {
    await db.destroy();
    await stack.stop();
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
}
