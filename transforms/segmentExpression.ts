/**
 * A small rule language for segments over mart.tags, e.g.
 *   `total_deposits >= 50_000 and not has_consumer_loan`
 *   `lifecycle in ('silent', 'churn_risk') or deposit_trend_90d is null`
 * Source text is tokenised, parsed and type-checked against the tag catalogue; it is never eval'd and
 * values never reach SQL text. The AST compiles to a parameterised SQL boolean and to a JS predicate
 * with the same meaning.
 *
 * NULL semantics (both compilers): a comparison (=, !=, <, in, between, a bare boolean tag) on a NULL or
 * missing tag is false; `is null` is true. `not` flips that two-valued result, so `not has_mortgage`
 * includes customers whose has_mortgage is NULL, and `x` / `not x` always partition the customers.
 * In SQL this is `coalesce((…), false)` around the whole expression and around the operand of each
 * `not` (plain SQL three-valued logic would otherwise make `not (NULL = true)` NULL, i.e. excluded).
 */
import { TAGS } from './tagCatalogue';

export type TagType = 'boolean' | 'enum' | 'number' | 'band';
export interface TagLike {
  id: string;
  type: TagType;
}

export interface ExprError {
  message: string;
  /** 0-based offset into the source, in UTF-16 code units. */
  position: number;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
}

export type Literal = string | number | boolean;
export type CompareOp = '=' | '!=' | '<' | '<=' | '>' | '>=';

/** The parsed expression. Plain data: safe to JSON round-trip (compilers re-check its shape). */
export type Expr =
  | { kind: 'const'; value: boolean }
  | { kind: 'and'; args: Expr[] }
  | { kind: 'or'; args: Expr[] }
  | { kind: 'not'; arg: Expr }
  | { kind: 'compare'; tag: string; op: CompareOp; value: Literal }
  | { kind: 'in'; tag: string; values: Literal[] }
  | { kind: 'between'; tag: string; low: number; high: number }
  | { kind: 'isNull'; tag: string; negated: boolean };

export const MAX_EXPRESSION_LENGTH = 2000;
/** Parentheses and `not` each add one level. */
export const MAX_EXPRESSION_DEPTH = 32;

export class SegmentExpressionError extends Error {
  readonly errors: ExprError[];
  readonly source: string;

  constructor(errors: ExprError[], source: string) {
    super(errors.map((e) => `${e.message} at line ${e.line}, column ${e.column}\n${caretExcerpt(source, e)}`).join('\n'));
    this.name = 'SegmentExpressionError';
    this.errors = errors;
    this.source = source;
  }
}

// ---------------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'ident' | 'keyword' | 'number' | 'string' | 'op' | '(' | ')' | ',' | 'eof' | 'invalid';
interface Token {
  kind: TokenKind;
  /** Source text of the token. */
  text: string;
  position: number;
  /** Keyword (lower-cased), operator, number value, string value, or the lexical error message. */
  value?: string | number;
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'between', 'is', 'null', 'true', 'false']);
const NUMBER_RE = /^-?\d+(?:_\d+)*(?:\.\d+(?:_\d+)*)?(?:[eE][+-]?\d+(?:_\d+)*)?$/;
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isWordChar = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_.]/.test(c);

/** Tokenises up to the first lexical error, which becomes an 'invalid' token so errors surface in source order. */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i]!)) i++;
      const text = src.slice(start, i);
      const lower = text.toLowerCase();
      tokens.push(KEYWORDS.has(lower) ? { kind: 'keyword', text, position: start, value: lower } : { kind: 'ident', text, position: start });
      continue;
    }
    if (isDigit(c) || (c === '-' && isDigit(src[i + 1]))) {
      i++;
      // Take the whole word (and exponent signs) so `1__0`, `1e` and `12abc` are reported as one bad number.
      while (i < src.length && (isWordChar(src[i]) || ((src[i] === '+' || src[i] === '-') && /[eE]/.test(src[i - 1]!)))) i++;
      const text = src.slice(start, i);
      const value = Number(text.replace(/_/g, ''));
      if (!NUMBER_RE.test(text)) return invalid(tokens, start, `malformed number "${text}": write digits like 1500, 1.5, -2, 1e6 or 1_000_000`);
      if (!Number.isFinite(value)) return invalid(tokens, start, `number ${text} is out of range`);
      tokens.push({ kind: 'number', text, position: start, value });
      continue;
    }
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      for (;;) {
        const d = src[i];
        if (d === undefined || d === '\n' || d === '\r') return invalid(tokens, start, 'unterminated string: the quote opened here is never closed');
        if (d === c) {
          if (src[i + 1] === c) {
            value += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (d === '\\') {
          const e = src[i + 1];
          if (e === '\\' || e === "'" || e === '"') {
            value += e;
            i += 2;
            continue;
          }
          return invalid(tokens, i, `unknown escape "\\${e ?? ''}" in a string; only \\\\, \\' and \\" are allowed`);
        }
        value += d;
        i++;
      }
      tokens.push({ kind: 'string', text: src.slice(start, i), position: start, value });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '<=' || two === '>=' || two === '!=' || two === '<>') {
      tokens.push({ kind: 'op', text: two, position: start, value: two === '<>' ? '!=' : two });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>') {
      tokens.push({ kind: 'op', text: c, position: start, value: c });
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',') {
      tokens.push({ kind: c, text: c, position: start });
      i++;
      continue;
    }
    const ch = String.fromCodePoint(src.codePointAt(i)!);
    return invalid(tokens, start, `unexpected character "${ch}"`);
  }
  tokens.push({ kind: 'eof', text: '', position: src.length });
  return tokens;
}

function invalid(tokens: Token[], position: number, message: string): Token[] {
  tokens.push({ kind: 'invalid', text: '', position, value: message });
  return tokens;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'the end of the expression';
    case 'keyword':
      return `keyword "${t.text}"`;
    case 'number':
      return `number ${t.text}`;
    case 'string':
      return `text ${t.text.length > 30 ? `${t.text.slice(0, 29)}…` : t.text}`;
    default:
      return `"${t.text}"`;
  }
}

// ---------------------------------------------------------------------------------------------------
// Parser and type checker

class SyntaxFailure {
  constructor(
    readonly message: string,
    readonly position: number,
  ) {}
}

class Parser {
  private index = 0;
  readonly problems: { message: string; position: number }[] = [];

  constructor(
    private readonly tokens: Token[],
    private readonly types: ReadonlyMap<string, TagType>,
  ) {}

  private peek(): Token {
    const t = this.tokens[this.index]!;
    if (t.kind === 'invalid') throw new SyntaxFailure(String(t.value), t.position);
    return t;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.index++;
    return t;
  }

  private isKeyword(word: string): boolean {
    const t = this.peek();
    return t.kind === 'keyword' && t.value === word;
  }

  parseAll(): Expr {
    const expr = this.parseOr(0);
    const t = this.peek();
    if (t.kind === ')') throw new SyntaxFailure('unbalanced parentheses: this ")" has no matching "("', t.position);
    if (t.kind !== 'eof') throw new SyntaxFailure(`unexpected ${describe(t)} after a complete condition; join conditions with and / or`, t.position);
    return expr;
  }

  private parseOr(depth: number): Expr {
    const args = [this.parseAnd(depth)];
    while (this.isKeyword('or')) {
      this.next();
      args.push(this.parseAnd(depth));
    }
    return args.length === 1 ? args[0]! : { kind: 'or', args };
  }

  private parseAnd(depth: number): Expr {
    const args = [this.parseNot(depth)];
    while (this.isKeyword('and')) {
      this.next();
      args.push(this.parseNot(depth));
    }
    return args.length === 1 ? args[0]! : { kind: 'and', args };
  }

  private enter(depth: number, t: Token): number {
    if (depth + 1 > MAX_EXPRESSION_DEPTH) throw new SyntaxFailure(`expression is nested deeper than ${MAX_EXPRESSION_DEPTH} levels (each "(" and not adds one)`, t.position);
    return depth + 1;
  }

  private parseNot(depth: number): Expr {
    if (this.isKeyword('not')) {
      const inner = this.enter(depth, this.next());
      return { kind: 'not', arg: this.parseNot(inner) };
    }
    return this.parsePrimary(depth);
  }

  private parsePrimary(depth: number): Expr {
    const t = this.peek();
    if (t.kind === '(') {
      const inner = this.enter(depth, this.next());
      const expr = this.parseOr(inner);
      this.closeParen(t);
      return expr;
    }
    if (t.kind === 'keyword' && (t.value === 'true' || t.value === 'false')) {
      this.next();
      return { kind: 'const', value: t.value === 'true' };
    }
    if (t.kind === 'ident') return this.parseCondition();
    if (t.kind === 'string') throw new SyntaxFailure(`expected a tag id, found ${describe(t)}; tag ids are written bare, without quotes`, t.position);
    if (t.kind === ')') throw new SyntaxFailure(`expected a condition, found ")"`, t.position);
    throw new SyntaxFailure(`expected a condition (a tag, not, true, false or "("), found ${describe(t)}`, t.position);
  }

  private closeParen(open: Token): void {
    const t = this.peek();
    if (t.kind === ')') {
      this.next();
      return;
    }
    if (t.kind === 'eof') throw new SyntaxFailure('unbalanced parentheses: this "(" is never closed', open.position);
    throw new SyntaxFailure(`expected ")" or and / or, found ${describe(t)}`, t.position);
  }

  private parseCondition(): Expr {
    const tagToken = this.next();
    const tag = tagToken.text;
    const type = this.lookupTag(tagToken);
    const t = this.peek();

    if (t.kind === 'op') {
      this.next();
      const op = t.value as CompareOp;
      const lit = this.parseLiteral(`after "${t.text}"`);
      if (type) this.checkCompare(tag, type, t, lit);
      return { kind: 'compare', tag, op, value: lit.value };
    }
    if (t.kind === 'keyword' && t.value === 'in') {
      this.next();
      const open = this.peek();
      if (open.kind !== '(') throw new SyntaxFailure(`expected "(" after in, found ${describe(open)}`, open.position);
      this.next();
      const lits = [this.parseLiteral('in the in list')];
      for (;;) {
        const sep = this.peek();
        if (sep.kind === ',') {
          this.next();
          lits.push(this.parseLiteral('after ","'));
        } else if (sep.kind === ')') {
          this.next();
          break;
        } else if (sep.kind === 'eof') {
          throw new SyntaxFailure('unbalanced parentheses: this "(" is never closed', open.position);
        } else {
          throw new SyntaxFailure(`expected "," or ")" in the in list, found ${describe(sep)}`, sep.position);
        }
      }
      if (type) this.checkIn(tag, type, t, lits);
      return { kind: 'in', tag, values: lits.map((l) => l.value) };
    }
    if (t.kind === 'keyword' && t.value === 'between') {
      this.next();
      const low = this.parseNumber('after between');
      const and = this.peek();
      if (!(and.kind === 'keyword' && and.value === 'and')) throw new SyntaxFailure(`expected and between the two bounds, found ${describe(and)}`, and.position);
      this.next();
      const high = this.parseNumber('after between … and');
      if (type && type !== 'number') this.problem(`between needs a number tag; "${tag}" is ${article(type)} tag`, t.position);
      else if (low.value > high.value) this.problem(`between bounds are reversed: ${low.token.text} is greater than ${high.token.text}`, low.token.position);
      return { kind: 'between', tag, low: low.value, high: high.value };
    }
    if (t.kind === 'keyword' && t.value === 'is') {
      this.next();
      let negated = false;
      if (this.isKeyword('not')) {
        this.next();
        negated = true;
      }
      const n = this.peek();
      if (!(n.kind === 'keyword' && n.value === 'null')) throw new SyntaxFailure(`expected null after ${negated ? 'is not' : 'is'}, found ${describe(n)}`, n.position);
      this.next();
      return { kind: 'isNull', tag, negated };
    }
    // A bare tag: only a boolean tag can stand alone, meaning tag = true.
    if (type && type !== 'boolean') this.problem(`${type} tag "${tag}" cannot stand alone; compare it, e.g. ${example(tag, type)}`, tagToken.position);
    return { kind: 'compare', tag, op: '=', value: true };
  }

  private parseLiteral(where: string): { value: Literal; token: Token } {
    const t = this.peek();
    if (t.kind === 'number' || t.kind === 'string') {
      this.next();
      return { value: t.value!, token: t };
    }
    if (t.kind === 'keyword' && (t.value === 'true' || t.value === 'false')) {
      this.next();
      return { value: t.value === 'true', token: t };
    }
    if (t.kind === 'ident') throw new SyntaxFailure(`expected a value ${where}, found "${t.text}"; text values need quotes, e.g. '${t.text}'`, t.position);
    throw new SyntaxFailure(`expected a value (a number, quoted text, true or false) ${where}, found ${describe(t)}`, t.position);
  }

  private parseNumber(where: string): { value: number; token: Token } {
    const t = this.peek();
    if (t.kind !== 'number') throw new SyntaxFailure(`expected a number ${where}, found ${describe(t)}`, t.position);
    this.next();
    return { value: t.value as number, token: t };
  }

  private lookupTag(t: Token): TagType | undefined {
    const type = this.types.get(t.text);
    if (!type) {
      const near = closestTag(t.text, [...this.types.keys()]);
      this.problem(near ? `unknown tag "${t.text}" (did you mean ${near}?)` : `unknown tag "${t.text}"; see the tag catalogue for valid ids`, t.position);
    }
    return type;
  }

  private checkCompare(tag: string, type: TagType, opToken: Token, lit: { value: Literal; token: Token }): void {
    const op = opToken.value as CompareOp;
    if (type !== 'number' && op !== '=' && op !== '!=') {
      this.problem(`${type} tag "${tag}" does not take ${opToken.text}; ${hint(type)}`, opToken.position);
      return;
    }
    this.checkLiteral(tag, type, lit);
  }

  private checkIn(tag: string, type: TagType, inToken: Token, lits: { value: Literal; token: Token }[]): void {
    if (type === 'boolean') {
      this.problem(`boolean tag "${tag}" does not take in; ${hint(type)}`, inToken.position);
      return;
    }
    for (const lit of lits) this.checkLiteral(tag, type, lit);
  }

  private checkLiteral(tag: string, type: TagType, lit: { value: Literal; token: Token }): void {
    const got = typeof lit.value === 'string' ? 'text' : typeof lit.value === 'number' ? 'a number' : lit.token.text.toLowerCase();
    if (type === 'number' && typeof lit.value !== 'number') this.problem(`number tag "${tag}" must be compared with a number, not ${got}`, lit.token.position);
    if (type === 'boolean' && typeof lit.value !== 'boolean') this.problem(`boolean tag "${tag}" must be compared with true or false, not ${got}`, lit.token.position);
    if ((type === 'enum' || type === 'band') && typeof lit.value !== 'string') this.problem(`${type} tag "${tag}" must be compared with quoted text, not ${got}`, lit.token.position);
  }

  private problem(message: string, position: number): void {
    this.problems.push({ message, position });
  }
}

const article = (type: TagType) => (type === 'enum' ? 'an enum' : `a ${type}`);

function hint(type: TagType): string {
  return type === 'boolean' ? 'use the tag alone, or = / != with true or false' : 'use = / != or in with quoted text';
}

function example(tag: string, type: TagType): string {
  return type === 'number' ? `${tag} > 0` : `${tag} = 'value'`;
}

/** The catalogue id nearest to `word` (case-insensitive Levenshtein), if close enough to be a likely typo. */
function closestTag(word: string, ids: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const id of ids) {
    const d = editDistance(word.toLowerCase(), id.toLowerCase());
    if (d < bestDistance || (d === bestDistance && best !== undefined && id < best)) {
      best = id;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function locate(source: string, position: number): ExprError {
  const before = source.slice(0, position);
  const line = before.split('\n').length;
  const column = position - (before.lastIndexOf('\n') + 1) + 1;
  return { message: '', position, line, column };
}

/** The offending line (a window of it, if long) with a caret under the column. */
function caretExcerpt(source: string, e: ExprError): string {
  const lineText = (source.split('\n')[e.line - 1] ?? '').replace(/[\t\r]/g, ' ');
  const width = 80;
  let from = 0;
  if (lineText.length > width) from = Math.max(0, Math.min(e.column - 1 - width / 2, lineText.length - width));
  const prefix = from > 0 ? '…' : '';
  const suffix = from + width < lineText.length ? '…' : '';
  const shown = lineText.length > width ? lineText.slice(from, from + width) : lineText;
  return `  ${prefix}${shown}${suffix}\n  ${' '.repeat(prefix.length + e.column - 1 - from)}^`;
}

/**
 * Parses and type-checks a segment expression against the tag catalogue (default: TAGS).
 * Throws SegmentExpressionError listing every problem found (type errors are collected; the first
 * syntax error stops parsing), each with its position.
 */
export function parseSegmentExpression(source: string, tags: readonly TagLike[] = TAGS): Expr {
  const fail = (problems: { message: string; position: number }[]): never => {
    const sorted = [...problems].sort((a, b) => a.position - b.position);
    throw new SegmentExpressionError(
      sorted.map((p) => ({ ...locate(source, p.position), message: p.message })),
      source,
    );
  };
  if (source.length > MAX_EXPRESSION_LENGTH) fail([{ message: `segment expression is ${source.length} characters long; the limit is ${MAX_EXPRESSION_LENGTH}`, position: MAX_EXPRESSION_LENGTH }]);
  if (source.trim() === '') fail([{ message: 'segment expression is empty', position: 0 }]);

  const parser = new Parser(tokenize(source), new Map(tags.map((t) => [t.id, t.type])));
  let expr: Expr;
  try {
    expr = parser.parseAll();
  } catch (err) {
    if (err instanceof SyntaxFailure) return fail([...parser.problems, { message: err.message, position: err.position }]);
    throw err;
  }
  if (parser.problems.length) fail(parser.problems);
  return expr;
}

// ---------------------------------------------------------------------------------------------------
// Shape check for ASTs that may have come back from JSON: the compilers trust nothing they did not parse.

const OPS: ReadonlySet<string> = new Set(['=', '!=', '<', '<=', '>', '>=']);

function checkShape(e: Expr, depth = 0): void {
  const bad = (why: string): never => {
    throw new TypeError(`malformed segment expression AST: ${why}; re-parse the source with parseSegmentExpression`);
  };
  if (depth > MAX_EXPRESSION_DEPTH * 2 + 2) bad('nested too deeply');
  const tag = (t: unknown) => {
    if (typeof t !== 'string' || !IDENT_RE.test(t)) bad(`tag ${JSON.stringify(t)} is not a tag id`);
  };
  const lit = (v: unknown) => {
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) bad(`${JSON.stringify(v)} is not a value`);
  };
  switch (e?.kind) {
    case 'const':
      if (typeof e.value !== 'boolean') bad('const needs true or false');
      return;
    case 'and':
    case 'or':
      if (!Array.isArray(e.args) || e.args.length === 0) bad(`${e.kind} needs operands`);
      e.args.forEach((a) => checkShape(a, depth + 1));
      return;
    case 'not':
      checkShape(e.arg, depth + 1);
      return;
    case 'compare':
      tag(e.tag);
      lit(e.value);
      if (!OPS.has(e.op)) bad(`operator ${JSON.stringify(e.op)}`);
      if (typeof e.value !== 'number' && e.op !== '=' && e.op !== '!=') bad(`${e.op} needs a number`);
      return;
    case 'in':
      tag(e.tag);
      if (!Array.isArray(e.values) || e.values.length === 0) bad('in needs values');
      e.values.forEach(lit);
      if (typeof e.values[0] === 'boolean' || e.values.some((v) => typeof v !== typeof e.values[0])) bad('in values must be all numbers or all text');
      return;
    case 'between':
      tag(e.tag);
      if (typeof e.low !== 'number' || typeof e.high !== 'number' || !Number.isFinite(e.low) || !Number.isFinite(e.high)) bad('between needs numbers');
      return;
    case 'isNull':
      tag(e.tag);
      if (typeof e.negated !== 'boolean') bad('isNull needs negated');
      return;
    default:
      bad(`unknown node ${JSON.stringify((e as { kind?: unknown })?.kind)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// SQL

/** True when the node can evaluate to SQL NULL (it compares a tag value). */
function nullable(e: Expr): boolean {
  switch (e.kind) {
    case 'const':
    case 'isNull':
      return false;
    case 'and':
    case 'or':
      return e.args.some(nullable);
    case 'not':
      return false; // its operand is coalesced
    default:
      return true;
  }
}

/**
 * Compiles to a SQL boolean over mart.tags columns for knex.raw / where(knex.raw(...)): tag ids are
 * double-quoted identifiers (checked to be plain ids), every value is a positional `?` binding.
 * NULL-safe: a comparison on a NULL tag counts as false, also under `not` (see the file comment).
 */
export function compileToSql(expr: Expr): { sql: string; bindings: (string | number | boolean)[] } {
  checkShape(expr);
  const bindings: (string | number | boolean)[] = [];
  const bind = (v: Literal) => {
    bindings.push(v);
    return '?';
  };
  const col = (tag: string) => `"${tag}"`;
  const sql = (e: Expr, nested: boolean): string => {
    switch (e.kind) {
      case 'const':
        return e.value ? 'true' : 'false';
      case 'and':
      case 'or': {
        const text = e.args.map((a) => sql(a, true)).join(` ${e.kind} `);
        return nested && e.args.length > 1 ? `(${text})` : text;
      }
      case 'not':
        return nullable(e.arg) ? `not coalesce((${sql(e.arg, false)}), false)` : `not (${sql(e.arg, false)})`;
      case 'compare':
        return `${col(e.tag)} ${e.op === '!=' ? '<>' : e.op} ${bind(e.value)}`;
      case 'in':
        return `${col(e.tag)} in (${e.values.map(bind).join(', ')})`;
      case 'between':
        return `${col(e.tag)} between ${bind(e.low)} and ${bind(e.high)}`;
      case 'isNull':
        return `${col(e.tag)} is ${e.negated ? 'not ' : ''}null`;
    }
  };
  return { sql: `coalesce((${sql(expr, false)}), false)`, bindings };
}

// ---------------------------------------------------------------------------------------------------
// Predicate

/** A row value as a number: numbers, bigints and numeric strings (pg returns numeric/bigint as text). */
function asNumber(v: unknown, tag: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(v)) return Number(v);
  throw new TypeError(`row value of tag "${tag}" is a ${typeof v}, not a number`);
}

function sameType(v: unknown, lit: Literal, tag: string): unknown {
  if (typeof lit === 'number') return asNumber(v, tag);
  if (typeof v !== typeof lit) throw new TypeError(`row value of tag "${tag}" is a ${typeof v}, not a ${typeof lit}`);
  return v;
}

/**
 * Compiles to a JS predicate with the SQL's meaning: a NULL or missing tag makes a comparison false
 * (also under `not`), `is null` true. Throws TypeError on a row value of the wrong type (as the database would).
 */
export function compilePredicate(expr: Expr): (row: Record<string, unknown>) => boolean {
  checkShape(expr);
  type Pred = (row: Record<string, unknown>) => boolean;
  const build = (e: Expr): Pred => {
    switch (e.kind) {
      case 'const': {
        const value = e.value;
        return () => value;
      }
      case 'and': {
        const args = e.args.map(build);
        return (row) => args.every((p) => p(row));
      }
      case 'or': {
        const args = e.args.map(build);
        return (row) => args.some((p) => p(row));
      }
      case 'not': {
        const arg = build(e.arg);
        return (row) => !arg(row);
      }
      case 'compare': {
        const { tag, op, value } = e;
        return (row) => {
          const raw = row[tag];
          if (raw === null || raw === undefined) return false;
          const v = sameType(raw, value, tag) as Literal;
          switch (op) {
            case '=':
              return v === value;
            case '!=':
              return v !== value;
            case '<':
              return v < value;
            case '<=':
              return v <= value;
            case '>':
              return v > value;
            case '>=':
              return v >= value;
          }
        };
      }
      case 'in': {
        const { tag, values } = e;
        return (row) => {
          const raw = row[tag];
          if (raw === null || raw === undefined) return false;
          const v = sameType(raw, values[0]!, tag);
          return values.includes(v as Literal);
        };
      }
      case 'between': {
        const { tag, low, high } = e;
        return (row) => {
          const raw = row[tag];
          if (raw === null || raw === undefined) return false;
          const v = asNumber(raw, tag);
          return low <= v && v <= high;
        };
      }
      case 'isNull': {
        const { tag, negated } = e;
        return (row) => (row[tag] === null || row[tag] === undefined) !== negated;
      }
    }
  };
  return build(expr);
}

/** Tag ids the expression reads, each once, in order of first appearance. */
export function referencedTags(expr: Expr): string[] {
  const seen = new Set<string>();
  const walk = (e: Expr): void => {
    if (e.kind === 'and' || e.kind === 'or') e.args.forEach(walk);
    else if (e.kind === 'not') walk(e.arg);
    else if (e.kind !== 'const') seen.add(e.tag);
  };
  walk(expr);
  return [...seen];
}
