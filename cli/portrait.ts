#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import path from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { readEnv, type PortraitEnv } from '../config/env';
import { ConfigError, loadConfig } from '../config/load';
import type { PortraitConfig } from '../config/schema';
import { createDb } from '../db/knex';
import { evaluateCsv } from '../models/evaluateCsv';
import { TAGS, TAG_CATALOGUE_VERSION } from '../transforms/tagCatalogue';
import { ENCODINGS, SOURCES, SOURCE_NAMES, type Encoding, type SourceName } from '../config/sources';
import { validateSourceFile } from '../sourceReader/validateFile';
import { TRIGGER_EVENTS } from '../activities/tags';
import { generateSourceExtracts, type ChannelContact } from '../generator/generate';
import { createLogger } from '../services/logger';
import { startStack, stopAllStacks } from '../services/stack';
import { createPortraitWorker } from '../services/worker';
import { WORKFLOW_DAILY_RUN, type DailyRunResult } from '../shared';
import { parseFlags, requireDate, requireInt, UsageError } from './args';
import { modelRegistryCommand } from './modelCommands';
import { printSummary, runSummary } from './summary';
import { SUPPRESS_HELP, suppressCommand } from './suppress';
import { outcomeReport, printOutcomeReport } from './report';
import { buildReportHtml, LANGUAGES, type Lang } from '../report';
import { runFollowUpDay } from './followUp';
import { cancelOpenWorkflows, EXIT_INTERRUPTED, installInterruptHandling, interruption } from './interrupt';
import { CANCEL_HELP, RERUN_HELP, RUNS_HELP, WAIT_HELP, cancelCommand, rerunCommand, runsCommand, startDailyRun } from './runs';
import { newRunInput } from '../activities/operations';
import { SCHEDULE_HELP, scheduleCommand } from './schedule';
import { BACKFILL_HELP, backfillCommand } from './backfill';
import { VERIFY_HELP, verifyCommand } from './verify';
import { EXPLAIN_HELP, explainCommand } from './explain';
import { REPLAY_HELP, replayCommand } from './replay';

const HELP: Record<string, string> = {
  main: `portrait — daily batch pipeline for retail-bank precision marketing

Usage: portrait <command> [options]

Commands:
  demo       start what is missing, generate 20,000 customers, run a day and its follow-up 30 days later, print the outcomes
  worker     run a worker on the task queue (PostgreSQL and Temporal found or started)
  run        start the daily run for an as-of date
  status     show a run: status, stages, row counts, snapshot folder
  runs       list runs: as-of date, status, duration, seconds and rows per stage
  cancel     cancel a running run or backfill (cancel RUN_ID|BACKFILL_ID)
  rerun      run a failed or cancelled run's date again with its recorded input, config and seed (rerun RUN_ID)
  schedule   daily runs from a Temporal Schedule (schedule create|list|describe|pause|unpause|trigger|delete)
  backfill   run a range of as-of dates in date order, one run at a time (backfill --from D1 --to D2)
  generate   write synthetic source extracts (CSV) for an as-of date
  tags       list the tag catalogue and trigger events (tags list [--json|--markdown])
  model      model registry and evaluation (model list | show VERSION | promote VERSION | evaluate --csv FILE --label COL)
  validate   check one source file against its contract (no run, no database)
  suppress   compliance suppression lists (suppress add|remove --list LIST --key KEY | list)
  report     the outcome table of a run (report RUN_ID), or its visual HTML report (report RUN_ID --html [FILE] [--lang zh|en])
  verify     check a run folder offline: file hashes, Parquet row counts, unlisted files, chain, signature
  replay     re-execute a run from what it pinned and compare every snapshot byte for byte (replay RUN_ID)
  explain    follow one customer through a run: sources, tags, segment, scores, each campaign's decision (explain --run ID --customer KEY)

Every command takes --help and --json. Environment: see README.md.`,
  demo: `Usage: portrait demo [--customers N] [--seed S] [--as-of YYYY-MM-DD] [--json]

Starts embedded PostgreSQL and a Temporal dev server unless DATABASE_URL / TEMPORAL_ADDRESS are set, runs an
in-process worker, generates the extracts, runs the daily run, then a second run on the extracts of 30 days later
(products opened since), collects the first run's outcomes and prints a summary and the outcome table. Defaults: 20000 customers, seed 7, as-of 2026-11-20.`,
  worker: `Usage: portrait worker [--json]

Polls the task queue (PORTRAIT_TASK_QUEUE, default "portrait") until SIGINT/SIGTERM.`,
  run: `Usage: portrait run --as-of YYYY-MM-DD [--input DIR] [--config FILE] [--seed S] [--wait] [--json]

Starts dailyRun for the date. --input defaults to $PORTRAIT_HOME/data/<as-of>. Needs a worker (portrait worker).
${WAIT_HELP}`,
  status: `Usage: portrait status RUN_ID [--json]`,
  generate: `Usage: portrait generate --customers N --seed S --out DIR [--as-of YYYY-MM-DD] [--follow-up-of YYYY-MM-DD [--contacts FILE]] [--json]

Writes customers, accounts, balances, loans, transactions, app_events, consent and campaign_contacts CSV files
(plus ground_truth.csv for entity-resolution checks). Same arguments → byte-identical files.
--follow-up-of D0: the same bank as of --as-of: D0's files plus the loans and cards opened since; customers listed
in --contacts (CSV with header customer_key,product,contacted_on) open the offered product more often.`,
};

HELP.tags = `Usage: portrait tags list [--json|--markdown]

The tag catalogue (id, Chinese and English names, category, type, definition, version) and the trigger events.`;

HELP.model = `Usage: portrait model list [--json]
       portrait model show MODEL_VERSION [--json]
       portrait model promote MODEL_VERSION [--force --reason TEXT] [--json]
       portrait model evaluate --csv FILE --label COLUMN [--positive VALUE] [--exclude COLS] [--folds K] [--seed S] [--trees N] [--json]

list/show read the registry (audit.models, with the decision log of each model). Each daily run trains a candidate
when there are new labelled contacts and promotes it only if it is at least as good as the champion on the same
time-based holdout; promote does the same by hand (refused when the candidate was worse or judged against another
champion, unless --force with a --reason, which the log keeps). evaluate runs a k-fold evaluation of the histogram forest on any flat
labelled CSV (delimiter detected) and prints AUC mean ± sd, PR AUC, top-decile lift, fit and score times.`;

HELP.validate = `Usage: portrait validate --source NAME --file PATH [--encoding utf-8|gbk|gb18030] [--as-of YYYY-MM-DD] [--json]

Validates one file against the source's contract (config/sources.yaml, PORTRAIT_SOURCES) with the same row checks as
the ingest stage, without a run, Temporal or a database, and prints rows in, valid and quarantined by reason (JSON:
{rows_in, valid, quarantined, reasons}). --as-of (default: today, UTC) dates the future-date check. Exit 0 when the
file can be read as that source, even with bad rows; 1 with one line when it cannot (missing, wrong delimiter or
header, undecodable header).`;

HELP.suppress = SUPPRESS_HELP;
HELP.runs = RUNS_HELP;
HELP.cancel = CANCEL_HELP;
HELP.rerun = RERUN_HELP;
HELP.schedule = SCHEDULE_HELP;
HELP.backfill = BACKFILL_HELP;
HELP.verify = VERIFY_HELP;
HELP.explain = EXPLAIN_HELP;
HELP.replay = REPLAY_HELP;
const DEMO_AS_OF = '2026-11-20';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP.main + '\n');
    return command ? 0 : 2;
  }
  const handler = COMMANDS[command];
  if (!handler) throw new UsageError(`unknown command "${command}"; try portrait --help`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(HELP[command] + '\n');
    return 0;
  }
  return handler(rest);
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  suppress: suppressCommand,
  runs: runsCommand,
  cancel: cancelCommand,
  rerun: rerunCommand,
  schedule: scheduleCommand,
  backfill: backfillCommand,
  verify: verifyCommand,
  explain: explainCommand,
  replay: replayCommand,

  async generate(argv) {
    const { values } = parseFlags(argv, { customers: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' }, 'as-of': { type: 'string' }, 'follow-up-of': { type: 'string' }, contacts: { type: 'string' } });
    const customers = requireInt(values.customers, '--customers', 1);
    const seed = requireInt(values.seed, '--seed', 0);
    if (!values.out) throw new UsageError('--out is required');
    const asOf = values['as-of'] ? requireDate(values['as-of'], '--as-of') : DEMO_AS_OF;
    const baseAsOf = values['follow-up-of'] ? requireDate(values['follow-up-of'], '--follow-up-of') : undefined;
    if (values.contacts && !baseAsOf) throw new UsageError('--contacts needs --follow-up-of');
    if (baseAsOf && baseAsOf >= asOf) throw new UsageError(`--follow-up-of ${baseAsOf} must be before --as-of ${asOf}`);
    const followUp = baseAsOf ? { baseAsOf, contacts: values.contacts ? await readContactsCsv(values.contacts) : [] } : undefined;
    const started = process.hrtime.bigint();
    const summary = await generateSourceExtracts({ customers, seed, outDir: path.resolve(values.out), asOf, followUp });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (values.json) out({ ...summary, out: path.resolve(values.out), seconds });
    else {
      process.stdout.write(`generated ${customers} customers (seed ${seed}, as of ${asOf}) into ${path.resolve(values.out)} in ${seconds.toFixed(1)} s\n`);
      for (const [file, f] of Object.entries(summary.files)) process.stdout.write(`  ${file.padEnd(24)} ${String(f.rows).padStart(10)} rows\n`);
    }
    return 0;
  },

  async validate(argv) {
    const { values } = parseFlags(argv, { source: { type: 'string' }, file: { type: 'string' }, encoding: { type: 'string' }, 'as-of': { type: 'string' } });
    if (!values.source) throw new UsageError(`--source is required (one of ${SOURCE_NAMES.join(', ')})`);
    if (!(SOURCE_NAMES as readonly string[]).includes(values.source)) throw new UsageError(`unknown source "${values.source}"; known: ${SOURCE_NAMES.join(', ')}`);
    if (!values.file) throw new UsageError('--file is required');
    if (values.encoding !== undefined && !(ENCODINGS as readonly string[]).includes(values.encoding)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(', ')}, got "${values.encoding}"`);
    const asOf = values['as-of'] ? requireDate(values['as-of'], '--as-of') : new Date().toISOString().slice(0, 10);
    const contract = SOURCES[values.source as SourceName];
    const { timezone } = loadCheckedConfig(undefined);
    const report = await validateSourceFile({ contract, file: path.resolve(values.file), asOf, timezone, encoding: values.encoding as Encoding | undefined });
    if (values.json) out(report);
    else {
      process.stdout.write(`${values.source}: ${report.rows_in} rows in, ${report.valid} valid, ${report.quarantined} quarantined\n`);
      for (const [code, n] of Object.entries(report.reasons)) process.stdout.write(`  ${code.padEnd(20)} ${String(n).padStart(10)}\n`);
    }
    return 0;
  },

  async tags(argv) {
    const { values, positionals } = parseFlags(argv, { markdown: { type: 'boolean' } }, 1);
    if (positionals[0] !== 'list') throw new UsageError(positionals[0] ? `unknown tags subcommand "${positionals[0]}"; try portrait tags list` : 'tags needs a subcommand: list');
    if (values.json) out({ version: TAG_CATALOGUE_VERSION, tags: TAGS, trigger_events: TRIGGER_EVENTS.map(({ id, nameZh, condition }) => ({ id, nameZh, condition })) });
    else process.stdout.write(values.markdown ? catalogueMarkdown() : catalogueText());
    return 0;
  },

  async model(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'evaluate') {
      const { values } = parseFlags(rest, { csv: { type: 'string' }, label: { type: 'string' }, positive: { type: 'string' }, exclude: { type: 'string' }, folds: { type: 'string' }, seed: { type: 'string' }, trees: { type: 'string' } });
      if (!values.csv) throw new UsageError('--csv is required');
      if (!values.label) throw new UsageError('--label is required');
      if (!existsSync(values.csv)) throw new UsageError(`--csv ${values.csv} does not exist`);
      const result = await evaluateCsv({
        file: path.resolve(values.csv),
        label: values.label,
        positive: values.positive,
        exclude: values.exclude ? values.exclude.split(',').map((c) => c.trim()).filter(Boolean) : [],
        folds: requireInt(values.folds, '--folds', 2, 5),
        seed: requireInt(values.seed, '--seed', 0, 42),
        params: { nEstimators: requireInt(values.trees, '--trees', 1, 100), minSamplesLeaf: 5, maxFeatures: 'sqrt' },
      });
      if (values.json) out(result);
      else {
        const r = result;
        process.stdout.write(`${r.rows} rows, ${r.features} features, ${requireInt(values.folds, '--folds', 2, 5)} folds\n`);
        process.stdout.write(`AUC ${r.auc_mean.toFixed(4)} ± ${r.auc_sd.toFixed(4)}   PR AUC ${r.pr_auc.toFixed(4)}   top-decile lift ${r.top_decile_lift.toFixed(2)}\n`);
        process.stdout.write(`fit ${r.fit_seconds.toFixed(2)} s per fold, score ${r.score_seconds.toFixed(3)} s per fold\n`);
      }
      return 0;
    }
    if (sub !== 'list' && sub !== 'show' && sub !== 'promote') throw new UsageError(sub ? `unknown model subcommand "${sub}"; try portrait model --help` : 'model needs a subcommand: list, show, promote or evaluate');
    const env = readEnv();
    const log = createLogger(env.logLevel);
    const stack = await startStack(env, log, { temporal: false });
    const db = createDb(stack.databaseUrl, 2);
    try {
      return await modelRegistryCommand(db, sub, rest, (text) => process.stdout.write(text));
    } finally {
      await db.destroy();
      await stack.stop();
    }
  },

  async worker(argv) {
    parseFlags(argv, {});
    const env = readEnv();
    const log = createLogger(env.logLevel);
    const stack = await startStack(env, log);
    const w = await createPortraitWorker({ env, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, log });
    const interrupt = interruption();
    void interrupt.signalled.then(() => w.shutdown());
    // Without them glibc keeps an arena per thread that ever allocated and serves large buffers from arenas after the
    // first one is freed, and a long-lived worker carries one day's memory into the next (README).
    const arenas =
      process.platform === 'linux'
        ? {
            malloc_arena_max: process.env.MALLOC_ARENA_MAX ?? 'unset (set MALLOC_ARENA_MAX=2)',
            malloc_mmap_threshold: process.env.MALLOC_MMAP_THRESHOLD_ ?? 'unset (set MALLOC_MMAP_THRESHOLD_=131072)',
          }
        : {};
    log.info({ task_queue: env.taskQueue, temporal: stack.temporalAddress, ui: stack.temporalUi, ...arenas }, 'worker running; Ctrl-C to stop');
    try {
      await w.run();
    } finally {
      interrupt.dispose();
      await stack.stop();
    }
    return 0;
  },

  async run(argv) {
    const { values } = parseFlags(argv, { 'as-of': { type: 'string' }, input: { type: 'string' }, config: { type: 'string' }, seed: { type: 'string' }, wait: { type: 'boolean' } });
    const asOf = requireDate(values['as-of'], '--as-of');
    const env = readEnv();
    const config = loadCheckedConfig(values.config);
    const inputDir = path.resolve(values.input ?? path.join(env.home, 'data', asOf));
    if (!existsSync(inputDir)) throw new UsageError(`input folder ${inputDir} does not exist (use --input DIR or portrait generate --out ${inputDir})`);
    const seed = values.seed === undefined ? undefined : requireInt(values.seed, '--seed', 0);
    const log = createLogger(env.logLevel);
    const stack = await startStack(env, log);
    try {
      const client = await temporalClient(env, stack.temporalAddress);
      return await startDailyRun(client, env, newRunInput(asOf, inputDir, config, seed), { wait: !!values.wait, json: !!values.json });
    } finally {
      await stack.stop();
    }
  },

  async status(argv) {
    const { values, positionals } = parseFlags(argv, {}, 1);
    const runId = positionals[0];
    if (!runId) throw new UsageError('RUN_ID is required');
    const env = readEnv();
    const log = createLogger(env.logLevel);
    const stack = await startStack(env, log, { temporal: false });
    const db = createDb(stack.databaseUrl, 2);
    try {
      const summary = await runSummary(db, runId);
      if (!summary) throw new UsageError(`no run with id ${runId}`);
      if (values.json) out(summary);
      else printSummary(summary);
      return summary.status === 'failed' ? 1 : 0;
    } finally {
      await db.destroy();
      await stack.stop();
    }
  },

  async demo(argv) {
    const { values } = parseFlags(argv, { customers: { type: 'string' }, seed: { type: 'string' }, 'as-of': { type: 'string' } });
    const customers = requireInt(values.customers, '--customers', 100, 20_000);
    const seed = requireInt(values.seed, '--seed', 0, 7);
    const asOf = values['as-of'] ? requireDate(values['as-of'], '--as-of') : DEMO_AS_OF;
    const env = readEnv();
    const base = loadCheckedConfig(undefined);
    // The demo cannot wait 30 days: a second run loads the extracts of 30 days later, then the outcome workflows
    // (still on their durable timer) are signalled to collect.
    const config = { ...base, outcomes: { ...base.outcomes, collectAfter: '1h' } } as PortraitConfig;
    const log = createLogger(env.logLevel);
    const t0 = process.hrtime.bigint();
    const interrupt = interruption();
    const stack = await startStack(env, log);
    let worker: Awaited<ReturnType<typeof createPortraitWorker>> | undefined;
    let workerDone: Promise<void> | undefined;
    let client: Client | undefined;
    // A private task queue so a stray worker with other code never picks up the demo's tasks.
    const taskQueue = `${env.taskQueue}-demo-${process.pid}`;
    const demo = async (): Promise<number> => {
      const inputDir = path.join(env.home, 'data', `${asOf}-n${customers}-s${seed}`);
      if (!existsSync(path.join(inputDir, 'generate-summary.json'))) {
        log.info({ customers, seed, as_of: asOf, out: inputDir }, 'generating synthetic extracts');
        await generateSourceExtracts({ customers, seed, outDir: inputDir, asOf });
      } else {
        log.info({ out: inputDir }, 'reusing generated extracts (same customers, seed and date)');
      }
      worker = await createPortraitWorker({ env, databaseUrl: stack.databaseUrl, temporalAddress: stack.temporalAddress, log, taskQueue });
      workerDone = worker.run();
      client = await temporalClient(env, stack.temporalAddress);
      const input = { ...newRunInput(asOf, inputDir, config, undefined), awaitOutcomes: false };
      const handle = await client.workflow.start(WORKFLOW_DAILY_RUN, { taskQueue, workflowId: `dailyRun-${input.runId}`, args: [input] });
      log.info({ run_id: input.runId, workflow_id: handle.workflowId }, 'daily run started');
      const result: DailyRunResult = await handle.result();
      const db = createDb(stack.databaseUrl, 2);
      try {
        const day1 = await runFollowUpDay({ db, client, taskQueue, day0: result, config, customers, seed, dataDir: path.join(env.home, 'data'), newRunInput: (d, dir) => newRunInput(d, dir, config, undefined) });
        log.info({ run_id: day1.runId, as_of: day1.asOf }, 'follow-up run loaded; outcomes collected');
        const summary = await runSummary(db, result.runId);
        const outcomes = await outcomeReport(db, result.runId);
        const runs = await runDurations(db, [result.runId, day1.runId]);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const extra = {
          wall_seconds: Number(seconds.toFixed(1)),
          temporal_ui: stack.temporalUi ?? `(TEMPORAL_ADDRESS ${stack.temporalAddress})`,
          workflow_id: handle.workflowId,
          follow_up_run_id: day1.runId,
          runs,
          second_run_ratio: runs[0]!.duration_s > 0 ? Number((runs[1]!.duration_s / runs[0]!.duration_s).toFixed(3)) : null,
        };
        if (values.json) out({ ...summary, outcome_report: outcomes, ...extra });
        else {
          printSummary(summary!);
          process.stdout.write('\n');
          printOutcomeReport(outcomes!, (line) => process.stdout.write(line + '\n'));
          process.stdout.write(`\nFollow-up run ${day1.runId} (as of ${day1.asOf}) supplied the conversions.\n`);
          process.stdout.write(`Run times: ${runs.map((r) => `${r.as_of} ${r.duration_s.toFixed(1)} s`).join(', ')} (second run ${extra.second_run_ratio} × the first)\n`);
          process.stdout.write(`Temporal UI: ${extra.temporal_ui}   workflow ${handle.workflowId}\nDemo wall time: ${extra.wall_seconds} s\n`);
        }
      } finally {
        await db.destroy();
      }
      return 0;
    };
    try {
      const work = demo();
      const first = await Promise.race([work, interrupt.signalled]);
      if (typeof first === 'number') return first;
      // Ctrl-C: the demo's runs are cancelled (their activities' database sessions ended) before the worker and the
      // services it started stop.
      work.catch(() => undefined);
      const cancelled = client ? await cancelOpenWorkflows(client, taskQueue).catch(() => []) : [];
      process.stderr.write(`portrait: demo interrupted (${first}); cancelled ${cancelled.length} workflow(s), stopping the worker and services\n`);
      if (cancelled.length) await new Promise((resolve) => setTimeout(resolve, 2000));
      return EXIT_INTERRUPTED;
    } finally {
      interrupt.dispose();
      worker?.shutdown();
      await workerDone?.catch(() => undefined);
      await stack.stop();
    }
  },
};

/** Wall seconds of runs as audit.runs recorded them, in the order given. */
async function runDurations(db: ReturnType<typeof createDb>, runIds: string[]): Promise<{ run_id: string; as_of: string; duration_s: number }[]> {
  const rows = await db('audit.runs').whereIn('run_id', runIds).select('run_id', db.raw("to_char(as_of, 'YYYY-MM-DD') as as_of"), db.raw('extract(epoch from finished_at - started_at)::float8 as duration_s'));
  return runIds.map((id) => rows.find((r) => r.run_id === id)).map((r) => ({ run_id: r.run_id, as_of: r.as_of, duration_s: Number(Number(r.duration_s).toFixed(1)) }));
}

function catalogueMarkdown(): string {
  const cell = (v: string) => v.replace(/\|/g, '\\|');
  const lines = [`# Tag catalogue ${TAG_CATALOGUE_VERSION}`, '', '| id | 中文 | English | category | type | definition | v |', '|---|---|---|---|---|---|---|'];
  for (const t of TAGS) lines.push(`| ${t.id} | ${t.nameZh} | ${t.nameEn} | ${t.category} | ${t.type}${t.values ? ` (${t.values.join(', ')})` : ''} | ${cell(t.definition)} | ${t.version} |`);
  lines.push('', '## Trigger events', '', '| id | 中文 | condition (current vs previous run) |', '|---|---|---|');
  for (const e of TRIGGER_EVENTS) lines.push(`| ${e.id} | ${e.nameZh} | \`${cell(e.condition)}\` |`);
  return lines.join('\n') + '\n';
}

function catalogueText(): string {
  const lines = [`Tag catalogue ${TAG_CATALOGUE_VERSION} (${TAGS.length} tags)`];
  for (const t of TAGS) lines.push(`  ${t.category.padEnd(10)} ${t.id.padEnd(28)} ${t.type.padEnd(8)} ${t.nameZh} / ${t.nameEn}`);
  lines.push('Trigger events');
  for (const e of TRIGGER_EVENTS) lines.push(`  ${e.id.padEnd(24)} ${e.nameZh}`);
  return lines.join('\n') + '\n';
}

function loadCheckedConfig(file: string | undefined): PortraitConfig {
  return loadConfig(file ? path.resolve(file) : undefined);
}

async function readContactsCsv(file: string): Promise<ChannelContact[]> {
  if (!existsSync(file)) throw new UsageError(`--contacts ${file} does not exist`);
  const rows = parse(await readFile(file), { columns: true, skip_empty_lines: true, bom: true }) as Record<string, string>[];
  return rows.map((r, i) => {
    if (!r.customer_key || !r.product || !r.contacted_on) throw new UsageError(`--contacts ${file}: row ${i + 1} needs customer_key, product and contacted_on`);
    return { customerKey: r.customer_key, product: r.product, contactedOn: r.contacted_on };
  });
}


async function temporalClient(env: PortraitEnv, address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace: env.temporalNamespace });
}

function out(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** The innermost cause of a workflow failure is the sentence a person can act on. */
function errorLine(err: unknown): string {
  let e = err as { message?: string; cause?: unknown };
  if (err instanceof WorkflowFailedError) while (e.cause) e = e.cause as typeof e;
  return (e?.message ?? String(err)).split('\n')[0]!;
}

HELP.report = `Usage: portrait report RUN_ID [--json]
       portrait report RUN_ID --html [FILE] [--lang zh|en] [--json]

The outcome table of a run (campaign.results): per campaign and by segment, channel and score decile, contacts
and conversions per arm, absolute lift (95% Newcombe interval), relative lift (95% Katz interval), incremental
conversions, cost, value, ROI, uplift@k and Qini. A campaign whose attribution window has not closed, or whose
outcomes were not collected, is PENDING with the date it becomes final, and has no lift or ROI.
--html writes the run's visual report (one self-contained HTML file: overview, data quality, segments, customer
base, models, campaigns, outcomes, history) to FILE (default ./report-RUN_ID.html, or .en.html for English);
--lang zh (default) or en. Every run also has it in its snapshot folder (report.html, Chinese).`;

COMMANDS.report = async (argv) => {
  const { values, positionals } = parseFlags(argv, { html: { type: 'boolean' }, lang: { type: 'string' } }, 2);
  const runId = positionals[0];
  if (!runId) throw new UsageError('RUN_ID is required');
  if (positionals[1] && !values.html) throw new UsageError(`unexpected argument "${positionals[1]}" (a FILE goes with --html)`);
  if (values.lang !== undefined && !values.html) throw new UsageError('--lang goes with --html');
  const lang = (values.lang ?? 'zh') as Lang;
  if (!LANGUAGES.includes(lang)) throw new UsageError(`--lang must be one of ${LANGUAGES.join(', ')}, got "${values.lang}"`);
  const env = readEnv();
  const stack = await startStack(env, createLogger(env.logLevel), { temporal: false });
  const db = createDb(stack.databaseUrl, 2);
  try {
    if (values.html) {
      const t0 = process.hrtime.bigint();
      const html = await buildReportHtml(db, runId, lang);
      if (html === null) throw new UsageError(`no run with id ${runId}`);
      const file = path.resolve(positionals[1] ?? `report-${runId}${lang === 'zh' ? '' : `.${lang}`}.html`);
      await writeFile(file, html, 'utf8');
      const result = { run_id: runId, lang, file, bytes: Buffer.byteLength(html), seconds: Number((Number(process.hrtime.bigint() - t0) / 1e9).toFixed(2)) };
      if (values.json) out(result);
      else process.stdout.write(`report of run ${runId} (${lang}) written to ${file} (${result.bytes} bytes, ${result.seconds} s)\n`);
      return 0;
    }
    const result = await outcomeReport(db, runId);
    if (!result) throw new UsageError(`no run with id ${runId}`);
    if (values.json) out(result);
    else printOutcomeReport(result, (line) => process.stdout.write(line + '\n'));
    return 0;
  } finally {
    await db.destroy();
    await stack.stop();
  }
};

if (require.main === module) {
  installInterruptHandling(stopAllStacks);
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      const usage = err instanceof UsageError || err instanceof ConfigError;
      process.stderr.write(`portrait: ${usage && err instanceof UsageError ? 'usage: ' : 'error: '}${errorLine(err)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}

export { main };
