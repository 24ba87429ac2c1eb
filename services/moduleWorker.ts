import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';

/**
 * Starts a worker thread running the module `name` of directory `dir` (the caller's __dirname). Compiled, that is
 * the sibling `name.js`. Running from sources (ts-jest), Node cannot execute `name.ts`, so an eval'd bootstrap
 * registers a require hook that transpiles .ts files with the TypeScript compiler (a devDependency present
 * wherever the sources are run) and loads it.
 */
export function spawnModuleWorker(dir: string, name: string, callerFile: string): Worker {
  if (path.extname(callerFile) === '.js') return new Worker(path.join(dir, `${name}.js`));
  const tsPath = path.join(dir, `${name}.ts`);
  if (!fs.existsSync(tsPath)) throw new Error(`worker source not found at ${tsPath}`);
  const boot = `
const fs = require('fs');
const ts = require(${JSON.stringify(require.resolve('typescript'))});
require.extensions['.ts'] = function (module, filename) {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(out.outputText, filename);
};
require(${JSON.stringify(tsPath)});
`;
  return new Worker(boot, { eval: true });
}
