// A Portrait worker in its own process (run through swcRegister.js), optionally with test workflows
// (PORTRAIT_TEST_WORKFLOWS): the worker, its activities and their interceptors are the production ones.
import { readEnv } from '../../config/env';
import { createLogger } from '../../services/logger';
import { createPortraitWorker } from '../../services/worker';

async function main(): Promise<void> {
  const env = readEnv();
  const log = createLogger(env.logLevel);
  const worker = await createPortraitWorker({ env, databaseUrl: env.databaseUrl!, temporalAddress: env.temporalAddress!, log, workflowsPath: process.env.PORTRAIT_TEST_WORKFLOWS });
  process.once('SIGTERM', () => worker.shutdown());
  process.stdout.write('worker ready\n');
  await worker.run();
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`worker process failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
