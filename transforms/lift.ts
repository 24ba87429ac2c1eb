/** Conversion lift of a treatment arm over its control group. */
export interface ArmCounts {
  contacts: number;
  conversions: number;
}

export interface LiftResult {
  treatment: ArmCounts & { rate: number | null };
  control: ArmCounts & { rate: number | null };
  /** Treatment rate minus control rate, with a 95% Wald interval. Null when an arm is empty. */
  absoluteLift: number | null;
  absoluteLiftCi95: [number, number] | null;
  /** absoluteLift / control rate; null when the control rate is 0. */
  relativeLift: number | null;
  incrementalConversions: number | null;
}

const Z95 = 1.959963984540054;

export function computeLift(treatment: ArmCounts, control: ArmCounts): LiftResult {
  const rate = (a: ArmCounts) => (a.contacts > 0 ? a.conversions / a.contacts : null);
  const pt = rate(treatment);
  const pc = rate(control);
  let absoluteLift: number | null = null;
  let ci: [number, number] | null = null;
  if (pt !== null && pc !== null) {
    absoluteLift = pt - pc;
    const se = Math.sqrt((pt * (1 - pt)) / treatment.contacts + (pc * (1 - pc)) / control.contacts);
    ci = [absoluteLift - Z95 * se, absoluteLift + Z95 * se];
  }
  return {
    treatment: { ...treatment, rate: pt },
    control: { ...control, rate: pc },
    absoluteLift,
    absoluteLiftCi95: ci,
    relativeLift: absoluteLift !== null && pc ? absoluteLift / pc : null,
    incrementalConversions: absoluteLift !== null ? absoluteLift * treatment.contacts : null,
  };
}

/** Return on spend: (incremental value − cost) / cost; null without cost. */
export function roi(incrementalValue: number | null, cost: number): number | null {
  if (incrementalValue === null || cost <= 0) return null;
  return (incrementalValue - cost) / cost;
}
