import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from './testContext';

const ROOT = path.resolve(__dirname, '..', '..');

export interface WorkerChild {
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far (for failure messages). */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM (the worker drains), then waits for the exit. */
  stop(): Promise<void>;
}

/** `portrait worker` in its own process (TypeScript sources compiled on load), on this test's database and task queue. */
export function spawnPortraitWorker(ctx: TestContext): WorkerChild {
  let log = '';
  const proc = spawn(process.execPath, ['-r', path.join(ROOT, 'tests', 'helpers', 'swcRegister.js'), path.join(ROOT, 'cli', 'portrait.ts'), 'worker'], {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: ctx.databaseUrl,
      TEMPORAL_ADDRESS: process.env.PORTRAIT_TEST_TEMPORAL_ADDRESS,
      PORTRAIT_TASK_QUEUE: ctx.taskQueue,
      PORTRAIT_SNAPSHOT_DIR: ctx.env.snapshotDir,
      PORTRAIT_HOME: ctx.env.home,
      PORTRAIT_PII_KEY: ctx.env.piiKey,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return {
    proc,
    output: () => log,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
