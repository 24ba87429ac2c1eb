import type { SegmentRule } from '../config/schema';
import { compileToSql, parseSegmentExpression, SegmentExpressionError, type Expr } from './segmentExpression';

export interface CompiledRule {
  id: string;
  /** A boolean SQL expression over mart.tags columns; literals are `?` bindings, never spliced text. */
  sql: string;
  bindings: (string | number | boolean)[];
}

/** Problems with segment rules, one line each, as "segments.<i>.when: <message>" (message names line and column). */
export function checkSegmentRules(rules: readonly SegmentRule[]): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    try {
      parseSegmentExpression(rule.when);
    } catch (err) {
      if (!(err instanceof SegmentExpressionError)) throw err;
      for (const e of err.errors) problems.push(`segments.${i}.when (${rule.id}): ${e.message} at line ${e.line}, column ${e.column}`);
    }
  });
  return problems;
}

/** Each rule compiled on its own (memberships: every rule a customer matches). */
export function compileRules(rules: readonly SegmentRule[]): CompiledRule[] {
  const problems = checkSegmentRules(rules);
  if (problems.length) throw new Error(`invalid segment rules: ${problems.join('; ')}`);
  return rules.map((rule) => {
    const expr: Expr = parseSegmentExpression(rule.when);
    return { id: rule.id, ...compileToSql(expr) };
  });
}

/** Priority-ordered rules as one CASE: the first rule that matches is the primary segment. */
export function compileSegments(rules: readonly SegmentRule[]): { sql: string; bindings: (string | number | boolean)[] } {
  const bindings: (string | number | boolean)[] = [];
  const whens = compileRules(rules).map((rule) => {
    bindings.push(...rule.bindings, rule.id);
    return `when ${rule.sql} then ?`;
  });
  return { sql: `case ${whens.join(' ')} end`, bindings };
}
