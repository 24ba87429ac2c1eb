/** '30d' | '12h' | '15m' | '10s' | '500ms' → milliseconds. Pure: also used inside workflows. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`invalid duration "${text}"; use e.g. 30d, 12h, 10s`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}
