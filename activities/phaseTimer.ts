/**
 * Wall-clock seconds per phase of a stage, for operators (stage details, `portrait runs --json`); never part of a
 * snapshot. Each call closes the phase that ran since the previous call; a repeated name adds up.
 */
export function phaseTimer(): ((phase: string) => void) & { phases: Record<string, number> } {
  let mark = performance.now();
  const phases: Record<string, number> = {};
  return Object.assign((phase: string) => {
    const t = performance.now();
    phases[phase] = Number(((phases[phase] ?? 0) + (t - mark) / 1000).toFixed(3));
    mark = t;
  }, { phases });
}
