/**
 * Loads an ESM-only package from this CommonJS build. TypeScript would compile a plain `import()` to
 * `require()`, which cannot load ESM, so the call is hidden from the compiler.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval
const dynamicImport = new Function('specifier', 'return import(specifier)') as <T>(specifier: string) => Promise<T>;

export function importEsm<T>(specifier: string): Promise<T> {
  return dynamicImport<T>(specifier);
}
