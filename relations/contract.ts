/** Version of the snapshot contract (docs/CONTRACT.md): 1 = untyped text/double columns, 2 = typed, zstd, declared in relations/. */
export const CONTRACT_VERSION = 2;
