/** Resident memory of processes from /proc (Linux), for the benchmarks' peak figures. */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

/** A /proc/<pid>/status field in MB, or null when the process is gone or the field absent. */
export function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Resets the kernel's peak RSS (VmHWM) of a process we may write to ("5" > clear_refs); false when not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Proportional set size (Pss) of a process in MB: shared memory (PostgreSQL's shared buffers) is split between the
 * processes mapping it, so a sum over a server's processes counts it once. VmRSS when smaps_rollup is unreadable.
 */
export function pssMb(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // fall through
  }
  return statusMb(pid, 'VmRSS') ?? 0;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '']);

/**
 * Samples the memory of the PostgreSQL server behind `url` that serves this database: the postmaster (from
 * postmaster.pid in its data directory), its background processes and the backends of this database (other
 * databases' backends on a shared server are left out). Null when the server is not on this machine.
 */
export async function postgresSampler(url: string): Promise<{ sampleMb(): Promise<number>; close(): Promise<void> } | null> {
  if (!LOCAL_HOSTS.has(new URL(url).hostname)) return null;
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const dataDir = (await client.query('show data_directory')).rows[0].data_directory as string;
    const postmaster = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return {
      async sampleMb() {
        const { rows } = await client.query(`select pid from pg_stat_activity where datname = current_database() or datname is null`);
        return [postmaster, ...rows.map((r) => Number(r.pid))].reduce((sum, pid) => sum + pssMb(pid), 0);
      },
      close: () => client.end(),
    };
  } catch {
    // Not readable from here (another user's data directory, a container): no PostgreSQL figure.
    await client.end();
    return null;
  }
}
