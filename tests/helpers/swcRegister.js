// Lets a child `node` process run the TypeScript sources (e.g. `node -r ./tests/helpers/swcRegister.js cli/portrait.ts worker`)
// without a build: each .ts file is compiled to CommonJS with @swc/core (already installed for the Temporal worker).
const fs = require('node:fs');
const { transformSync } = require('@swc/core');

require.extensions['.ts'] = function compileTs(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
