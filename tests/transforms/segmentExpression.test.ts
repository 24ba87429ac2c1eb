import { DuckDBInstance } from '@duckdb/node-api';
import {
  compilePredicate,
  compileToSql,
  type Expr,
  parseSegmentExpression,
  referencedTags,
  SegmentExpressionError,
  type TagLike,
} from '../../transforms/segmentExpression';
import { TAGS } from '../../transforms/tagCatalogue';

/** A frozen slice of the catalogue, so messages and suggestions stay put while TAGS grows. */
const CATALOGUE: readonly TagLike[] = [
  { id: 'age', type: 'number' },
  { id: 'age_band', type: 'band' },
  { id: 'gender', type: 'enum' },
  { id: 'city_tier', type: 'number' },
  { id: 'occupation', type: 'enum' },
  { id: 'total_deposits', type: 'number' },
  { id: 'deposit_trend_90d', type: 'number' },
  { id: 'has_consumer_loan', type: 'boolean' },
  { id: 'has_credit_card', type: 'boolean' },
  { id: 'has_mortgage', type: 'boolean' },
  { id: 'lifecycle', type: 'enum' },
];
const parse = (source: string, tags: readonly TagLike[] = CATALOGUE) => parseSegmentExpression(source, tags);
const sqlOf = (source: string, tags: readonly TagLike[] = CATALOGUE) => compileToSql(parse(source, tags));

function errorsOf(source: string, tags: readonly TagLike[] = CATALOGUE) {
  try {
    parse(source, tags);
  } catch (err) {
    if (err instanceof SegmentExpressionError) return err.errors;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be rejected`);
}

describe('compileToSql', () => {
  it.each<[string, string, (string | number | boolean)[]]>([
    ['total_deposits >= 1000000', 'coalesce(("total_deposits" >= ?), false)', [1000000]],
    ['total_deposits >= 50_000 and not has_consumer_loan', 'coalesce(("total_deposits" >= ? and not coalesce(("has_consumer_loan" = ?), false)), false)', [50000, true]],
    ["lifecycle in ('silent', 'churn_risk')", 'coalesce(("lifecycle" in (?, ?)), false)', ['silent', 'churn_risk']],
    ['age between 25 and 45 and city_tier <= 2', 'coalesce(("age" between ? and ? and "city_tier" <= ?), false)', [25, 45, 2]],
    ['deposit_trend_90d is null or deposit_trend_90d < 0.5', 'coalesce(("deposit_trend_90d" is null or "deposit_trend_90d" < ?), false)', [0.5]],
    ['has_mortgage', 'coalesce(("has_mortgage" = ?), false)', [true]],
    ['has_mortgage = false', 'coalesce(("has_mortgage" = ?), false)', [false]],
    ["gender <> 'F' or gender != 'M'", 'coalesce(("gender" <> ? or "gender" <> ?), false)', ['F', 'M']],
    ['age > -2 and age < 1e6 and age >= 1.5', 'coalesce(("age" > ? and "age" < ? and "age" >= ?), false)', [-2, 1000000, 1.5]],
    ['(age > 1 or age < 0) and (city_tier = 1)', 'coalesce((("age" > ? or "age" < ?) and "city_tier" = ?), false)', [1, 0, 1]],
    ['not (age is null) and age is not null', 'coalesce((not ("age" is null) and "age" is not null), false)', []],
    ['true', 'coalesce((true), false)', []],
    ['false or not true', 'coalesce((false or not (true)), false)', []],
  ])('%s', (source, sql, bindings) => {
    expect(sqlOf(source)).toEqual({ sql, bindings });
  });

  it('reads string escapes and Chinese text into one binding', () => {
    expect(sqlOf(`occupation = '教师' or occupation = 'it''s' or occupation = "say \\"hi\\"" or occupation = 'a\\\\b'`).bindings).toEqual([
      '教师',
      "it's",
      'say "hi"',
      'a\\b',
    ]);
    expect(sqlOf(`occupation = "x""y"`).bindings).toEqual(['x"y']);
  });

  it('treats keywords case-insensitively', () => {
    const lower = parse("not has_mortgage and age between 1 and 2 or gender in ('F') or age is not null or has_credit_card = true");
    const mixed = parse("NOT has_mortgage AnD age BETWEEN 1 AND 2 Or gender IN ('F') OR age IS NOT NULL oR has_credit_card = TRUE");
    expect(mixed).toEqual(lower);
    expect(compileToSql(mixed).sql).toBe(
      'coalesce(((not coalesce(("has_mortgage" = ?), false) and "age" between ? and ?) or "gender" in (?) or "age" is not null or "has_credit_card" = ?), false)',
    );
  });

  it('rejects a tampered AST instead of quoting whatever it holds', () => {
    const tampered = JSON.parse('{"kind":"compare","tag":"age\\" > 0; drop table x; --","op":"=","value":1}') as Expr;
    expect(() => compileToSql(tampered)).toThrow(/malformed segment expression AST: tag .* is not a tag id/);
    expect(() => compilePredicate(tampered)).toThrow(TypeError);
    expect(() => compileToSql({ kind: 'compare', tag: 'age', op: '= 1 or 1' as '=', value: 1 })).toThrow(/operator/);
    expect(() => compileToSql({ kind: 'compare', tag: 'gender', op: '<', value: 'F' })).toThrow(/< needs a number/);
  });

  it('survives a JSON round trip', () => {
    const expr = parse("lifecycle in ('new') and not (age between 1 and 2 or has_mortgage)");
    expect(compileToSql(JSON.parse(JSON.stringify(expr)) as Expr)).toEqual(compileToSql(expr));
  });
});

describe('parseSegmentExpression: AST', () => {
  it('binds not tighter than and, and tighter than or', () => {
    expect(parse('has_mortgage or not has_credit_card and age > 1')).toEqual({
      kind: 'or',
      args: [
        { kind: 'compare', tag: 'has_mortgage', op: '=', value: true },
        {
          kind: 'and',
          args: [
            { kind: 'not', arg: { kind: 'compare', tag: 'has_credit_card', op: '=', value: true } },
            { kind: 'compare', tag: 'age', op: '>', value: 1 },
          ],
        },
      ],
    });
    expect(parse('not (has_mortgage or has_credit_card) and age > 1')).toEqual({
      kind: 'and',
      args: [
        { kind: 'not', arg: { kind: 'or', args: [{ kind: 'compare', tag: 'has_mortgage', op: '=', value: true }, { kind: 'compare', tag: 'has_credit_card', op: '=', value: true }] } },
        { kind: 'compare', tag: 'age', op: '>', value: 1 },
      ],
    });
  });

  it('reads between … and as one comparison', () => {
    expect(parse('age between 25 and 45 and city_tier <= 2')).toEqual({
      kind: 'and',
      args: [
        { kind: 'between', tag: 'age', low: 25, high: 45 },
        { kind: 'compare', tag: 'city_tier', op: '<=', value: 2 },
      ],
    });
  });

  it('normalises <> to != and reads every number form', () => {
    expect(parse("gender <> 'F'")).toEqual({ kind: 'compare', tag: 'gender', op: '!=', value: 'F' });
    expect(parse('age in (123, 1.5, -2, 1e6, 1_000_000, 2.5E-3)')).toEqual({ kind: 'in', tag: 'age', values: [123, 1.5, -2, 1e6, 1_000_000, 0.0025] });
  });

  it('spans lines and ignores whitespace', () => {
    expect(parse('\n  age > 1\r\n\tand has_mortgage\n')).toEqual({
      kind: 'and',
      args: [
        { kind: 'compare', tag: 'age', op: '>', value: 1 },
        { kind: 'compare', tag: 'has_mortgage', op: '=', value: true },
      ],
    });
  });

  it('takes the catalogue as a parameter', () => {
    const tags: TagLike[] = [{ id: 'vip_flag', type: 'boolean' }, { id: 'aum', type: 'number' }];
    expect(sqlOf('vip_flag and aum > 1', tags)).toEqual({ sql: 'coalesce(("vip_flag" = ? and "aum" > ?), false)', bindings: [true, 1] });
    expect(errorsOf('age > 1', tags)).toEqual([{ message: 'unknown tag "age"; see the tag catalogue for valid ids', position: 0, line: 1, column: 1 }]);
    expect(errorsOf('vip_flags', tags)[0]!.message).toBe('unknown tag "vip_flags" (did you mean vip_flag?)');
  });

  it('accepts exactly 2,000 characters and 32 levels of nesting', () => {
    expect(() => parse('age > 1' + ' '.repeat(1993))).not.toThrow();
    expect(() => parse('('.repeat(32) + 'has_mortgage' + ')'.repeat(32))).not.toThrow();
    expect(() => parse('not '.repeat(32) + 'has_mortgage')).not.toThrow();
    expect(() => parse('(not '.repeat(16) + 'has_mortgage' + ')'.repeat(16))).not.toThrow();
  });
});

describe('parseSegmentExpression: errors', () => {
  it.each<[string, string, string, number, number, number]>([
    // [case, source, message, position, line, column]
    ['empty', '', 'segment expression is empty', 0, 1, 1],
    ['blank', '  \n ', 'segment expression is empty', 0, 1, 1],
    ['too long', 'age > 1' + ' '.repeat(1994), 'segment expression is 2001 characters long; the limit is 2000', 2000, 1, 2001],
    ['too deep: parentheses', '('.repeat(33) + 'has_mortgage' + ')'.repeat(33), 'expression is nested deeper than 32 levels (each "(" and not adds one)', 32, 1, 33],
    ['too deep: not', 'not '.repeat(33) + 'has_mortgage', 'expression is nested deeper than 32 levels (each "(" and not adds one)', 128, 1, 129],
    ['trailing tokens', 'age > 1 age < 5', 'unexpected "age" after a complete condition; join conditions with and / or', 8, 1, 9],
    ['trailing number', 'age > 1 2', 'unexpected number 2 after a complete condition; join conditions with and / or', 8, 1, 9],
    ['unterminated string', "gender = 'F", 'unterminated string: the quote opened here is never closed', 9, 1, 10],
    ['string cut by a line end', 'gender = "F\n"', 'unterminated string: the quote opened here is never closed', 9, 1, 10],
    ['unclosed (', '(age > 1', 'unbalanced parentheses: this "(" is never closed', 0, 1, 1],
    ['unclosed in list', "lifecycle in ('new', 'silent'", 'unbalanced parentheses: this "(" is never closed', 13, 1, 14],
    ['stray )', 'age > 1)', 'unbalanced parentheses: this ")" has no matching "("', 7, 1, 8],
    ['missing )', '(age > 1 age', 'expected ")" or and / or, found "age"', 9, 1, 10],
    ['empty parentheses', '()', 'expected a condition, found ")"', 1, 1, 2],
    ['dangling and', 'age > 1 and', 'expected a condition (a tag, not, true, false or "("), found the end of the expression', 11, 1, 12],
    ['leading and', 'and age > 1', 'expected a condition (a tag, not, true, false or "("), found keyword "and"', 0, 1, 1],
    ['missing value', 'age >', 'expected a value (a number, quoted text, true or false) after ">", found the end of the expression', 5, 1, 6],
    ['unquoted text', 'gender = F', `expected a value after "=", found "F"; text values need quotes, e.g. 'F'`, 9, 1, 10],
    ['in without (', 'age in 1', 'expected "(" after in, found number 1', 7, 1, 8],
    ['in list without comma', "lifecycle in ('new' 'silent')", `expected "," or ")" in the in list, found text 'silent'`, 20, 1, 21],
    ['between without and', 'age between 1 or 2', 'expected and between the two bounds, found keyword "or"', 14, 1, 15],
    ['between with text', "age between 'a' and 'b'", "expected a number after between, found text 'a'", 12, 1, 13],
    ['is without null', 'age is 5', 'expected null after is, found number 5', 7, 1, 8],
    ['is not without null', 'age is not true', 'expected null after is not, found keyword "true"', 11, 1, 12],
    ['malformed number', 'age = 1__0', 'malformed number "1__0": write digits like 1500, 1.5, -2, 1e6 or 1_000_000', 6, 1, 7],
    ['number glued to a word', 'age = 12abc', 'malformed number "12abc": write digits like 1500, 1.5, -2, 1e6 or 1_000_000', 6, 1, 7],
    ['number out of range', 'age = 1e999', 'number 1e999 is out of range', 6, 1, 7],
    ['unknown escape', "gender = 'a\\n'", 'unknown escape "\\n" in a string; only \\\\, \\\' and \\" are allowed', 11, 1, 12],
    ['C-style operator', 'age >= 18 && age < 65', 'unexpected character "&"', 10, 1, 11],
    ['unknown tag with a suggestion', 'totl_deposits >= 1', 'unknown tag "totl_deposits" (did you mean total_deposits?)', 0, 1, 1],
    ['unknown tag, wrong case', 'Total_Deposits >= 1', 'unknown tag "Total_Deposits" (did you mean total_deposits?)', 0, 1, 1],
    ['unknown tag, nothing close', 'zzz_qqq_xxx > 1', 'unknown tag "zzz_qqq_xxx"; see the tag catalogue for valid ids', 0, 1, 1],
    ['unknown bare tag', 'has_mortgag', 'unknown tag "has_mortgag" (did you mean has_mortgage?)', 0, 1, 1],
    ['number tag with text', "age > 'x'", 'number tag "age" must be compared with a number, not text', 6, 1, 7],
    ['number tag with true', 'age = true', 'number tag "age" must be compared with a number, not true', 6, 1, 7],
    ['number tag in text list', "age in (1, '2')", 'number tag "age" must be compared with a number, not text', 11, 1, 12],
    ['number tag alone', 'age', 'number tag "age" cannot stand alone; compare it, e.g. age > 0', 0, 1, 1],
    ['boolean tag ordered', 'has_mortgage > 1', 'boolean tag "has_mortgage" does not take >; use the tag alone, or = / != with true or false', 13, 1, 14],
    ['boolean tag with a number', 'has_mortgage = 1', 'boolean tag "has_mortgage" must be compared with true or false, not a number', 15, 1, 16],
    ['boolean tag with text', "has_mortgage != 'true'", 'boolean tag "has_mortgage" must be compared with true or false, not text', 16, 1, 17],
    ['boolean tag in list', 'has_mortgage in (true)', 'boolean tag "has_mortgage" does not take in; use the tag alone, or = / != with true or false', 13, 1, 14],
    ['boolean tag between', 'has_mortgage between 0 and 1', 'between needs a number tag; "has_mortgage" is a boolean tag', 13, 1, 14],
    ['enum tag ordered', "gender < 'F'", 'enum tag "gender" does not take <; use = / != or in with quoted text', 7, 1, 8],
    ['enum tag with a number', "lifecycle in ('new', 3)", 'enum tag "lifecycle" must be compared with quoted text, not a number', 21, 1, 22],
    ['enum tag alone', 'gender', `enum tag "gender" cannot stand alone; compare it, e.g. gender = 'value'`, 0, 1, 1],
    ['enum tag between', 'gender between 1 and 2', 'between needs a number tag; "gender" is an enum tag', 7, 1, 8],
    ['band tag with a number', 'age_band = 3', 'band tag "age_band" must be compared with quoted text, not a number', 11, 1, 12],
    ['band tag ordered', "age_band >= '25-34'", 'band tag "age_band" does not take >=; use = / != or in with quoted text', 9, 1, 10],
    ['reversed between', 'age between 45 and 25', 'between bounds are reversed: 45 is greater than 25', 12, 1, 13],
    ['position on a later line', "age > 1 and\n  gender < 'F'", 'enum tag "gender" does not take <; use = / != or in with quoted text', 21, 2, 10],
  ])('%s', (_case, source, message, position, line, column) => {
    expect(errorsOf(source)).toEqual([{ message, position, line, column }]);
  });

  it('formats the message with line, column and a caret excerpt', () => {
    let caught: unknown;
    try {
      parse("age > 1 and\n  gender < 'F'");
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SegmentExpressionError);
    const err = caught as SegmentExpressionError;
    expect(err.name).toBe('SegmentExpressionError');
    expect(err.source).toBe("age > 1 and\n  gender < 'F'");
    expect(err.message).toBe(["enum tag \"gender\" does not take <; use = / != or in with quoted text at line 2, column 10", "    gender < 'F'", '           ^'].join('\n'));
  });

  it('windows the excerpt of a long line around the caret', () => {
    const source = 'age > 1 and '.repeat(15) + 'agee > 1';
    const err = (() => {
      try {
        parse(source);
      } catch (e) {
        return e as SegmentExpressionError;
      }
      throw new Error('not rejected');
    })();
    const [, excerpt, caret] = err.message.split('\n');
    expect(excerpt).toBe('  …' + source.slice(source.length - 80));
    expect(caret!.indexOf('^') - 2).toBe(1 + source.indexOf('agee') - (source.length - 80));
  });

  it('reports every type error, in source order, and a syntax error after them', () => {
    expect(errorsOf("gender < 'F' or totl_deposits > 'x'")).toEqual([
      { message: 'enum tag "gender" does not take <; use = / != or in with quoted text', position: 7, line: 1, column: 8 },
      { message: 'unknown tag "totl_deposits" (did you mean total_deposits?)', position: 16, line: 1, column: 17 },
    ]);
    expect(errorsOf('age = true and (')).toEqual([
      { message: 'number tag "age" must be compared with a number, not true', position: 6, line: 1, column: 7 },
      { message: 'expected a condition (a tag, not, true, false or "("), found the end of the expression', position: 16, line: 1, column: 17 },
    ]);
  });
});

describe('injection attempts', () => {
  it('rejects a second statement', () => {
    expect(errorsOf('total_deposits > 0; drop table mart.tags')).toEqual([{ message: 'unexpected character ";"', position: 18, line: 1, column: 19 }]);
  });

  it('reads a quote-doubling trick as one string, and rejects the unknown tag', () => {
    expect(errorsOf("name = 'x'' or 1=1 --'")).toEqual([{ message: 'unknown tag "name"; see the tag catalogue for valid ids', position: 0, line: 1, column: 1 }]);
    // With a real tag the whole trick is a single bound value.
    expect(sqlOf("occupation = 'x'' or 1=1 --'")).toEqual({ sql: 'coalesce(("occupation" = ?), false)', bindings: ["x' or 1=1 --"] });
  });

  it('does not accept quoted identifiers', () => {
    expect(errorsOf('"total_deposits" > 0')).toEqual([
      { message: 'expected a tag id, found text "total_deposits"; tag ids are written bare, without quotes', position: 0, line: 1, column: 1 },
    ]);
  });

  it('keeps SQL inside a string literal as one binding, out of the SQL text', () => {
    for (const source of ["occupation = \"'); drop table x; --\"", "occupation in ('a', '''); drop table x; --')"]) {
      const { sql, bindings } = sqlOf(source);
      expect(bindings).toContain("'); drop table x; --");
      expect(sql).not.toMatch(/drop|;|--|'/);
    }
  });

  it('rejects comments and SQL operators', () => {
    expect(errorsOf('age > 1 -- and false')[0]!.message).toBe('unexpected character "-"');
    expect(errorsOf('age > 1 /* x */')[0]!.message).toBe('unexpected character "/"');
    expect(errorsOf("gender = 'F' || 'x'")[0]!.message).toBe('unexpected character "|"');
  });
});

describe('referencedTags', () => {
  it('lists each tag once in order of first appearance', () => {
    expect(referencedTags(parse('age > 1 and (has_mortgage or not age is null) and lifecycle in (\'new\') and true'))).toEqual(['age', 'has_mortgage', 'lifecycle']);
    expect(referencedTags(parse('true'))).toEqual([]);
  });
});

describe('compilePredicate and compileToSql agree, NULLs included', () => {
  type Row = { id: number; age: number | null; gender: string | null; has_mortgage: boolean | null; total_deposits: number | null; deposit_trend_90d: number | null; lifecycle: string | null };
  const rows: Row[] = [
    { id: 1, age: 30, gender: 'F', has_mortgage: true, total_deposits: 2_000_000, deposit_trend_90d: 0.4, lifecycle: 'silent' },
    { id: 2, age: 50, gender: 'M', has_mortgage: false, total_deposits: 50_000, deposit_trend_90d: 1.2, lifecycle: 'mature' },
    { id: 3, age: null, gender: null, has_mortgage: null, total_deposits: null, deposit_trend_90d: null, lifecycle: null },
    { id: 4, age: 25, gender: 'F', has_mortgage: null, total_deposits: 0, deposit_trend_90d: null, lifecycle: 'churn_risk' },
    { id: 5, age: 45, gender: null, has_mortgage: true, total_deposits: 49_999.5, deposit_trend_90d: 0.5, lifecycle: '新客' },
  ];
  const expressions = [
    'total_deposits >= 50_000',
    'not total_deposits >= 50_000',
    'has_mortgage',
    'not has_mortgage',
    'has_mortgage != true',
    'not (has_mortgage or age > 40)',
    'not not has_mortgage',
    "gender != 'F'",
    "not gender = 'F'",
    "lifecycle in ('silent', 'churn_risk', '新客')",
    "not lifecycle in ('silent')",
    'age between 25 and 45',
    'not age between 25 and 45 or age is null',
    'deposit_trend_90d is null or deposit_trend_90d < 0.5',
    'deposit_trend_90d is not null and not deposit_trend_90d < 0.5',
    'total_deposits >= 50_000 and not has_mortgage',
    "not (age > 40 and gender = 'M') and true",
    'false or not (age is null)',
  ];

  let connection: Awaited<ReturnType<DuckDBInstance['connect']>>;
  beforeAll(async () => {
    connection = await (await DuckDBInstance.create(':memory:')).connect();
    await connection.run(
      'create table tags (id integer, age integer, gender varchar, has_mortgage boolean, total_deposits double, deposit_trend_90d double, lifecycle varchar)',
    );
    for (const r of rows) await connection.run('insert into tags values (?, ?, ?, ?, ?, ?, ?)', [r.id, r.age, r.gender, r.has_mortgage, r.total_deposits, r.deposit_trend_90d, r.lifecycle]);
  });
  afterAll(() => connection?.closeSync());

  it.each(expressions)('%s', async (source) => {
    const expr = parse(source);
    const { sql, bindings } = compileToSql(expr);
    const reader = await connection.runAndReadAll(`select id from tags where ${sql} order by id`, bindings);
    const fromSql = reader.getRowObjectsJS().map((r) => Number(r.id));
    const predicate = compilePredicate(expr);
    expect(rows.filter((r) => predicate(r)).map((r) => r.id)).toEqual(fromSql);
  });

  it('counts a comparison on a NULL or missing tag as false, also under not', () => {
    const nullRow = rows[2]!;
    expect(compilePredicate(parse('has_mortgage'))(nullRow)).toBe(false);
    expect(compilePredicate(parse('not has_mortgage'))(nullRow)).toBe(true);
    expect(compilePredicate(parse('age is null'))({})).toBe(true);
    expect(compilePredicate(parse("gender != 'F'"))({})).toBe(false);
  });

  it('reads numeric strings (pg numeric / bigint) as numbers and refuses values of the wrong type', () => {
    const predicate = compilePredicate(parse('total_deposits >= 1_000_000'));
    expect(predicate({ total_deposits: '1000000.00' })).toBe(true);
    expect(predicate({ total_deposits: 999_999n })).toBe(false);
    expect(() => predicate({ total_deposits: 'lots' })).toThrow('row value of tag "total_deposits" is a string, not a number');
    expect(() => compilePredicate(parse('has_mortgage'))({ has_mortgage: 'true' })).toThrow('row value of tag "has_mortgage" is a string, not a boolean');
  });
});

describe('the default catalogue is TAGS', () => {
  it('knows every tag in it', () => {
    for (const tag of TAGS) expect(referencedTags(parseSegmentExpression(`${tag.id} is null`))).toEqual([tag.id]);
  });

  it('compiles the documented examples', () => {
    expect(compileToSql(parseSegmentExpression('total_deposits >= 50_000 and not has_consumer_loan'))).toEqual({
      sql: 'coalesce(("total_deposits" >= ? and not coalesce(("has_consumer_loan" = ?), false)), false)',
      bindings: [50000, true],
    });
    expect(compileToSql(parseSegmentExpression("lifecycle in ('silent', 'churn_risk') or deposit_trend_90d is null")).bindings).toEqual(['silent', 'churn_risk']);
    expect(() => parseSegmentExpression('total_deposits > 0; drop table mart.tags')).toThrow(SegmentExpressionError);
  });
});
