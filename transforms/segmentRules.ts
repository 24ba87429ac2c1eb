import type { SegmentRule, TagCondition } from '../config/schema';
import { TAGS } from './tagCatalogue';

export interface CompiledSegments {
  /** A SQL CASE expression over mart.tags columns; all values are bound parameters, never spliced text. */
  sql: string;
  bindings: (string | number | boolean)[];
}

const TAG_TYPES = new Map(TAGS.map((t) => [t.id, t.type]));

/** Problems with segment rules against the tag catalogue, as "segments.<i>.all.<j>: message" lines. */
export function checkSegmentRules(rules: readonly SegmentRule[]): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) =>
    rule.all.forEach((cond, j) => {
      const where = `segments.${i}.all.${j}`;
      const type = TAG_TYPES.get(cond.tag);
      if (!type) return problems.push(`${where}: unknown tag "${cond.tag}"`);
      if (type === 'boolean' && (typeof cond.value !== 'boolean' || !['=', '!='].includes(cond.op))) problems.push(`${where}: boolean tag "${cond.tag}" takes = or != with true/false`);
      if (type === 'number' && typeof cond.value !== 'number') problems.push(`${where}: number tag "${cond.tag}" needs a number`);
      if ((type === 'enum' || type === 'band') && (typeof cond.value !== 'string' || !['=', '!='].includes(cond.op))) problems.push(`${where}: ${type} tag "${cond.tag}" takes = or != with a text value`);
      return undefined;
    }),
  );
  return problems;
}

/** Compiles priority-ordered rules into one CASE: the first rule that matches is the primary segment. */
export function compileSegments(rules: readonly SegmentRule[]): CompiledSegments {
  const problems = checkSegmentRules(rules);
  if (problems.length) throw new Error(`invalid segment rules: ${problems.join('; ')}`);
  const bindings: CompiledSegments['bindings'] = [];
  const whens = rules.map((rule) => {
    const cond = rule.all.length ? rule.all.map((c) => condition(c, bindings)).join(' and ') : 'true';
    bindings.push(rule.id);
    return `when ${cond} then ?`;
  });
  return { sql: `case ${whens.join(' ')} end`, bindings };
}

function condition(c: TagCondition, bindings: CompiledSegments['bindings']): string {
  bindings.push(c.value);
  // Tag ids are checked against the catalogue above, so quoting them as identifiers is safe.
  return `"${c.tag}" ${c.op === '!=' ? '<>' : c.op} ?`;
}
