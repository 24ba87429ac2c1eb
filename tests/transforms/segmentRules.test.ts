import type { SegmentRule } from '../../config/schema';
import { checkSegmentRules, compileSegments } from '../../transforms/segmentRules';
import { TAG_IDS } from '../../transforms/tagCatalogue';

const rule = (id: string, all: SegmentRule['all']): SegmentRule => ({ id, name: id, all });

describe('checkSegmentRules', () => {
  it('accepts valid rules of every tag type', () => {
    expect(
      checkSegmentRules([
        rule('a', [
          { tag: 'age', op: '>=', value: 30 },
          { tag: 'gender', op: '=', value: 'F' },
          { tag: 'age_band', op: '!=', value: '65+' },
          { tag: 'has_mortgage', op: '!=', value: true },
          { tag: 'total_deposits', op: '<', value: 1000 },
        ]),
        rule('rest', []),
      ]),
    ).toEqual([]);
  });

  it('reports an unknown tag with its path', () => {
    expect(checkSegmentRules([rule('a', [{ tag: 'age', op: '>', value: 1 }, { tag: 'nope', op: '=', value: 1 }])])).toEqual([
      'segments.0.all.1: unknown tag "nope"',
    ]);
  });

  it('rejects a tag id carrying SQL', () => {
    expect(checkSegmentRules([rule('a', [{ tag: 'age; drop', op: '>', value: 1 }])])).toEqual(['segments.0.all.0: unknown tag "age; drop"']);
    expect(checkSegmentRules([rule('a', [{ tag: 'age" or 1=1 --', op: '>', value: 1 }])])).toEqual(['segments.0.all.0: unknown tag "age" or 1=1 --"']);
  });

  it('boolean tags: true/false with = or != only', () => {
    const msg = 'segments.0.all.0: boolean tag "has_mortgage" takes = or != with true/false';
    expect(checkSegmentRules([rule('a', [{ tag: 'has_mortgage', op: '=', value: 'true' }])])).toEqual([msg]);
    expect(checkSegmentRules([rule('a', [{ tag: 'has_mortgage', op: '=', value: 1 }])])).toEqual([msg]);
    expect(checkSegmentRules([rule('a', [{ tag: 'has_mortgage', op: '>', value: true }])])).toEqual([msg]);
  });

  it('number tags need a number', () => {
    expect(checkSegmentRules([rule('a', [{ tag: 'age', op: '>', value: '30' }])])).toEqual(['segments.0.all.0: number tag "age" needs a number']);
    expect(checkSegmentRules([rule('a', [{ tag: 'age', op: '=', value: true }])])).toEqual(['segments.0.all.0: number tag "age" needs a number']);
  });

  it('enum and band tags: text with = or != only', () => {
    expect(checkSegmentRules([rule('a', [{ tag: 'gender', op: '<', value: 'M' }])])).toEqual(['segments.0.all.0: enum tag "gender" takes = or != with a text value']);
    expect(checkSegmentRules([rule('a', [{ tag: 'lifecycle', op: '=', value: 1 }])])).toEqual(['segments.0.all.0: enum tag "lifecycle" takes = or != with a text value']);
    expect(checkSegmentRules([rule('a', [{ tag: 'age_band', op: '>=', value: '25-34' }])])).toEqual(['segments.0.all.0: band tag "age_band" takes = or != with a text value']);
  });

  it('reports every problem across rules, in order, with both indices', () => {
    expect(
      checkSegmentRules([
        rule('a', [{ tag: 'age', op: '>', value: 1 }]),
        rule('b', [{ tag: 'gender', op: '=', value: 'M' }, { tag: 'x', op: '=', value: 1 }, { tag: 'age', op: '<', value: 'old' }]),
        rule('c', [{ tag: 'has_credit_card', op: '<>' as '=', value: false }]),
      ]),
    ).toEqual([
      'segments.1.all.1: unknown tag "x"',
      'segments.1.all.2: number tag "age" needs a number',
      'segments.2.all.0: boolean tag "has_credit_card" takes = or != with true/false',
    ]);
  });
});

describe('compileSegments', () => {
  const rules = [
    rule('young_women', [
      { tag: 'age', op: '<', value: 30 },
      { tag: 'gender', op: '=', value: 'F' },
    ]),
    rule('no_mortgage', [{ tag: 'has_mortgage', op: '!=', value: true }]),
    rule('rest', []),
  ];

  it('builds one CASE with placeholders and bindings in order', () => {
    const c = compileSegments(rules);
    expect(c.sql).toBe('case when "age" < ? and "gender" = ? then ? when "has_mortgage" <> ? then ? when true then ? end');
    expect(c.bindings).toEqual([30, 'F', 'young_women', true, 'no_mortgage', 'rest']);
  });

  it('has one binding per placeholder and only catalogue tag ids as identifiers', () => {
    const c = compileSegments(rules);
    expect(c.sql.split('?').length - 1).toBe(c.bindings.length);
    const idents = [...c.sql.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
    expect(idents).toEqual(['age', 'gender', 'has_mortgage']);
    for (const id of idents) expect(TAG_IDS.has(id)).toBe(true);
    expect(c.sql).not.toMatch(/'/);
    expect(c.sql).not.toMatch(/\d/);
  });

  it('compiles the shipped-style rules with every comparison operator', () => {
    const c = compileSegments([
      rule('a', [{ tag: 'max_overdue_days', op: '>', value: 30 }]),
      rule('b', [{ tag: 'total_deposits', op: '>=', value: 1000000 }]),
      rule('c', [{ tag: 'txn_count_30d', op: '<=', value: 3 }]),
      rule('d', [{ tag: 'lifecycle', op: '=', value: 'churn_risk' }]),
    ]);
    expect(c.sql).toBe('case when "max_overdue_days" > ? then ? when "total_deposits" >= ? then ? when "txn_count_30d" <= ? then ? when "lifecycle" = ? then ? end');
    expect(c.bindings).toEqual([30, 'a', 1000000, 'b', 3, 'c', 'churn_risk', 'd']);
  });

  it('keeps an injection attempt in a value as a binding, never in the SQL text', () => {
    const evil = "x'; drop table mart.tags; --";
    const c = compileSegments([rule('a', [{ tag: 'lifecycle', op: '=', value: evil }]), rule('rest', [])]);
    expect(c.sql).toBe('case when "lifecycle" = ? then ? when true then ? end');
    expect(c.sql).not.toContain('drop');
    expect(c.sql).not.toContain(evil);
    expect(c.bindings).toEqual([evil, 'a', 'rest']);
  });

  it('throws on invalid rules with every problem listed', () => {
    expect(() => compileSegments([rule('a', [{ tag: 'age; drop', op: '>', value: 1 }])])).toThrow('invalid segment rules: segments.0.all.0: unknown tag "age; drop"');
    expect(() =>
      compileSegments([rule('a', [{ tag: 'nope', op: '=', value: 1 }]), rule('b', [{ tag: 'gender', op: '>', value: 'M' }])]),
    ).toThrow('invalid segment rules: segments.0.all.0: unknown tag "nope"; segments.1.all.0: enum tag "gender" takes = or != with a text value');
  });
});
