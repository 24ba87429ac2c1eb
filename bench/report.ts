/**
 * report.html build time: `npm run -s bench:report -- [--run RUN_ID] [--repeat N] [--lang zh|en] [--out FILE]`.
 * Builds the report of an existing run (default: the latest succeeded run) in the database of DATABASE_URL (or the
 * embedded one) N times (default 3) and prints JSON: customers, bytes, charts, the SQL and render seconds of each
 * build and their medians, and the heap growth. Reads only: nothing is written unless --out is given.
 */
import { writeFile } from 'node:fs/promises';
import { readEnv } from '../config/env';
import { createDb } from '../db/knex';
import { createLogger } from '../services/logger';
import { startStack } from '../services/stack';
import { parseFlags, requireInt, UsageError } from '../cli/args';
import { LANGUAGES, type Lang } from '../report';
import { renderReportHtml } from '../report/html';
import { loadReportData } from '../report/queries';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const round3 = (x: number) => Math.round(x * 1000) / 1000;

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { run: { type: 'string' }, repeat: { type: 'string' }, lang: { type: 'string' }, out: { type: 'string' } });
  const repeat = requireInt(values.repeat, '--repeat', 1, 3);
  const lang = (values.lang ?? 'zh') as Lang;
  if (!LANGUAGES.includes(lang)) throw new UsageError(`--lang must be one of ${LANGUAGES.join(', ')}`);
  const env = readEnv();
  const stack = await startStack(env, createLogger(process.env.LOG_LEVEL ?? 'warn'), { temporal: false });
  const db = createDb(stack.databaseUrl, 4);
  try {
    const runId = values.run ?? (await db('audit.runs').where({ status: 'succeeded' }).orderBy([{ column: 'as_of', order: 'desc' }, { column: 'started_at', order: 'desc' }]).first('run_id'))?.run_id;
    if (!runId) throw new UsageError('no succeeded run in this database; give --run RUN_ID');
    const builds: { sql_seconds: number; render_seconds: number; total_seconds: number }[] = [];
    const heapBefore = process.memoryUsage().heapUsed;
    let html = '';
    let customers = 0;
    for (let i = 0; i < repeat; i++) {
      const t0 = process.hrtime.bigint();
      const data = await loadReportData(db, runId);
      if (!data) throw new UsageError(`no run with id ${runId}`);
      const sql = seconds(t0);
      const t1 = process.hrtime.bigint();
      html = renderReportHtml(data, lang);
      const render = seconds(t1);
      customers = data.run.customers;
      builds.push({ sql_seconds: round3(sql), render_seconds: round3(render), total_seconds: round3(sql + render) });
      process.stderr.write(`bench:report build ${i + 1}/${repeat}: ${round3(sql + render)} s\n`);
    }
    if (values.out) await writeFile(values.out, html, 'utf8');
    process.stdout.write(
      JSON.stringify(
        {
          run_id: runId,
          customers,
          lang,
          bytes: Buffer.byteLength(html),
          charts: (html.match(/<figure class="chart"/g) ?? []).length,
          builds,
          median_total_seconds: median(builds.map((b) => b.total_seconds)),
          median_sql_seconds: median(builds.map((b) => b.sql_seconds)),
          median_render_seconds: median(builds.map((b) => b.render_seconds)),
          heap_growth_mb: Math.round((process.memoryUsage().heapUsed - heapBefore) / 1048576),
          load_average: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
        },
        null,
        2,
      ) + '\n',
    );
    return 0;
  } finally {
    await db.destroy();
    await stack.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench:report: ${(err as Error).message.split('\n')[0]}\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
