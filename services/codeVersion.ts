import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findProjectRoot } from './temporal';

/** package version + git commit ("0.1.0+abc1234", "+dirty" when the tree has changes); PORTRAIT_GIT_COMMIT in images without git. */
export function codeVersion(): string {
  const root = findProjectRoot(__dirname);
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  let commit = process.env.PORTRAIT_GIT_COMMIT ?? '';
  if (!commit) {
    const head = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' });
    if (head.status === 0) {
      commit = head.stdout.trim();
      const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8' });
      if (dirty.status === 0 && dirty.stdout.trim()) commit += '.dirty';
    }
  }
  return commit ? `${pkg.version}+${commit}` : pkg.version;
}

/** The package version alone ("0.1.0"): what snapshot files name as their writer, so a new commit alone does not change their bytes. */
export function packageVersion(): string {
  const root = findProjectRoot(__dirname);
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
}
