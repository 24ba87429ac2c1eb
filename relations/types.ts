/**
 * How a snapshot relation is declared: its file, key, sort order and columns, each column with the PostgreSQL type it
 * is read from, the Parquet logical type it is written as, and whether it may be null. The Parquet schema, the row
 * type of in-memory rows, the manifest's column list and the contract document all come from this one declaration.
 */

/** Scalar contract types. TIMESTAMP is an instant: Parquet TIMESTAMP(isAdjustedToUTC=true, MICROS). */
export type ScalarType = 'VARCHAR' | 'BOOLEAN' | 'INT32' | 'INT64' | 'DOUBLE' | 'DECIMAL(18,2)' | 'DATE' | 'TIMESTAMP';
export type ColumnType = ScalarType | { readonly list: ColumnType } | { readonly struct: Readonly<Record<string, ColumnType>> };

export interface ColumnDef {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
  /** PostgreSQL type of the value the select expression yields (documentation and the schema test). */
  readonly pg: string;
  /**
   * Select expression over the relation's `from` clause; defaults to the column of the same name. Composite types
   * (LIST/STRUCT) must yield json/jsonb; instants timestamptz; money numeric.
   */
  readonly sql?: string;
  /**
   * LIST only: the writer sorts each list ascending (DuckDB list_sort; byte order, structs field by field), so the
   * select may aggregate without ORDER BY — a sort per group in PostgreSQL costs more than one in the writer.
   */
  readonly sorted?: boolean;
  /**
   * Composite only: the value arrives as text (the select's value cast to text) and this DuckDB expression over the
   * column's name builds it in the writer — for values PostgreSQL would otherwise assemble as JSON row by row.
   */
  readonly fromText?: string;
  readonly doc?: string;
}

export interface RelationDef<C extends readonly ColumnDef[] = readonly ColumnDef[]> {
  /** Name in the manifest and the contract document. */
  readonly name: string;
  /** Path in the run's snapshot folder. */
  readonly file: string;
  readonly doc: string;
  /** Columns that identify a row. */
  readonly key: readonly string[];
  /** Row order of the file (ascending); always a superset of the key, so the order is total. */
  readonly sortBy: readonly string[];
  /**
   * FROM clause read by the writer, with `:runId` bound (and any other named parameters of `where`). Absent for
   * relations built in memory (quality checks, training sets, marketing files).
   */
  readonly from?: string;
  readonly where?: string;
  /** Order-by expressions over `from` when they are not plain columns of the result. */
  readonly orderBySql?: string;
  readonly columns: C;
}

/** TypeScript type of one column's value as in-memory rows carry it. */
type TsOf<T> = T extends 'VARCHAR' ? string
  : T extends 'BOOLEAN' ? boolean
  : T extends 'INT32' | 'INT64' | 'DOUBLE' | 'DECIMAL(18,2)' ? number
  : T extends 'DATE' ? string
  : T extends 'TIMESTAMP' ? string | Date
  : T extends { list: infer E } ? TsOf<E>[]
  : T extends { struct: infer S } ? { [K in keyof S]: TsOf<S[K]> | null }
  : never;

/** The row type a relation's in-memory rows must have (any record for relations whose columns are known at run time). */
export type RowOf<R extends RelationDef> = string extends R['columns'][number]['name']
  ? Record<string, unknown>
  : { [C in R['columns'][number] as C['name']]: C['nullable'] extends true ? TsOf<C['type']> | null : TsOf<C['type']> };

export function relation<const C extends readonly ColumnDef[]>(def: RelationDef<C>): RelationDef<C> {
  const names = new Set(def.columns.map((c) => c.name));
  for (const k of [...def.key, ...def.sortBy]) if (!names.has(k)) throw new Error(`relation ${def.name}: key/sort column "${k}" is not a column`);
  if (names.size !== def.columns.length) throw new Error(`relation ${def.name}: duplicate column names`);
  return def;
}

/** A column; `pg` defaults from the type (text, boolean, integer, bigint, double precision, numeric(18,2), date, timestamptz, jsonb). */
export function col<const N extends string, const T extends ColumnType, const Null extends boolean = false>(
  name: N,
  type: T,
  opts: { nullable?: Null; pg?: string; sql?: string; sorted?: boolean; fromText?: string; doc?: string } = {},
): { name: N; type: T; nullable: Null; pg: string; sql?: string; sorted?: boolean; fromText?: string; doc?: string } {
  if (opts.sorted && !(typeof type === 'object' && 'list' in type)) throw new Error(`column ${name}: only a LIST can be sorted by the writer`);
  if (opts.fromText && typeof type !== 'object') throw new Error(`column ${name}: only a LIST or STRUCT can be built from text by the writer`);
  return {
    name, type, nullable: (opts.nullable ?? false) as Null, pg: opts.pg ?? defaultPg(type),
    ...(opts.sql ? { sql: opts.sql } : {}), ...(opts.sorted ? { sorted: true } : {}), ...(opts.fromText ? { fromText: opts.fromText } : {}), ...(opts.doc ? { doc: opts.doc } : {}),
  };
}

function defaultPg(type: ColumnType): string {
  if (typeof type !== 'string') return 'jsonb';
  return { VARCHAR: 'text', BOOLEAN: 'boolean', INT32: 'integer', INT64: 'bigint', DOUBLE: 'double precision', 'DECIMAL(18,2)': 'numeric(18,2)', DATE: 'date', TIMESTAMP: 'timestamptz' }[type];
}

/** DuckDB type that writes the contract's Parquet type. */
export function duckType(type: ColumnType): string {
  if (typeof type === 'string') {
    return { VARCHAR: 'VARCHAR', BOOLEAN: 'BOOLEAN', INT32: 'INTEGER', INT64: 'BIGINT', DOUBLE: 'DOUBLE', 'DECIMAL(18,2)': 'DECIMAL(18,2)', DATE: 'DATE', TIMESTAMP: 'TIMESTAMPTZ' }[type];
  }
  if ('list' in type) return `${duckType(type.list)}[]`;
  return `STRUCT(${Object.entries(type.struct).map(([k, v]) => `${quoteIdent(k)} ${duckType(v)}`).join(', ')})`;
}

/** The contract's name of a type, as the manifest and docs/CONTRACT.md print it. */
export function contractType(type: ColumnType): string {
  if (typeof type === 'string') return type === 'TIMESTAMP' ? 'TIMESTAMP(UTC,MICROS)' : type;
  if ('list' in type) return `LIST<${contractType(type.list)}>`;
  return `STRUCT<${Object.entries(type.struct).map(([k, v]) => `${k}: ${contractType(v)}`).join(', ')}>`;
}

export function isComposite(type: ColumnType): boolean {
  return typeof type !== 'string';
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** One column as the manifest lists it. */
export interface ManifestColumn {
  name: string;
  type: string;
  nullable: boolean;
}

export function manifestColumns(def: RelationDef): ManifestColumn[] {
  return def.columns.map((c) => ({ name: c.name, type: contractType(c.type), nullable: c.nullable }));
}
