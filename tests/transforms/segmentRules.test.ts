import type { SegmentRule } from '../../config/schema';
import { checkSegmentRules, compileRules, compileSegments } from '../../transforms/segmentRules';

const rules: SegmentRule[] = [
  { id: 'high_net_worth', name: 'HNW', when: 'total_deposits >= 1_000_000' },
  { id: 'potential', name: 'Potential', when: "deposit_loan_gap and not has_consumer_loan and lifecycle in ('mature', 'growing')" },
  { id: 'mass_market', name: 'Mass', when: 'true' },
];

describe('segment rules', () => {
  test('valid rules have no problems', () => {
    expect(checkSegmentRules(rules)).toEqual([]);
  });

  test('problems name the rule index, id, line and column', () => {
    const problems = checkSegmentRules([
      { id: 'a', name: 'A', when: 'total_deposit > 5' },
      { id: 'b', name: 'B', when: "age > 'old'" },
      { id: 'c', name: 'C', when: 'true' },
    ]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^segments\.0\.when \(a\): unknown tag "total_deposit".* at line 1, column 1$/);
    expect(problems[1]).toMatch(/^segments\.1\.when \(b\): .* at line 1, column 7$/);
  });

  test('every rule compiles to parameterised SQL with its literals as bindings', () => {
    const compiled = compileRules(rules);
    expect(compiled.map((r) => r.id)).toEqual(['high_net_worth', 'potential', 'mass_market']);
    expect(compiled[0]!.bindings).toEqual([1_000_000]);
    expect(compiled[0]!.sql).toContain('"total_deposits"');
    expect(compiled[1]!.bindings).toEqual(expect.arrayContaining(['mature', 'growing']));
    for (const r of compiled) expect(r.sql).not.toMatch(/1000000|mature|growing/);
  });

  test('the primary CASE keeps priority order and binds each segment id after its condition', () => {
    const { sql, bindings } = compileSegments(rules);
    expect(sql.startsWith('case when ')).toBe(true);
    expect(sql.endsWith(' end')).toBe(true);
    expect((sql.match(/ then \?/g) ?? []).length).toBe(3);
    expect(bindings.filter((b) => typeof b === 'string' && ['high_net_worth', 'potential', 'mass_market'].includes(b))).toEqual(['high_net_worth', 'potential', 'mass_market']);
    expect((sql.match(/\?/g) ?? []).length).toBe(bindings.length);
  });

  test('an injection attempt is either rejected or stays a binding', () => {
    const hostile = "x'); drop table mart.tags; --";
    const { sql, bindings } = compileSegments([{ id: 'x', name: 'X', when: `occupation = '${hostile.replace(/'/g, "''")}'` }, { id: 'rest', name: 'R', when: 'true' }]);
    expect(sql).not.toContain('drop table');
    expect(bindings).toContain(hostile);
    expect(() => compileRules([{ id: 'y', name: 'Y', when: 'age > 0; drop table mart.tags' }])).toThrow(/invalid segment rules/);
  });
});
