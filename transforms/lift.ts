/** Conversion lift of a treatment arm over its control group, with 95% intervals. Pure: no I/O, no clock. */
export interface ArmCounts {
  contacts: number;
  conversions: number;
}

export type Interval = [number, number];

export interface LiftResult {
  /** rate = conversions / contacts; rateCi95 is the Wilson score interval. Null rates for an empty arm. */
  treatment: ArmCounts & { rate: number | null; rateCi95: Interval | null };
  control: ArmCounts & { rate: number | null; rateCi95: Interval | null };
  /** Treatment rate minus control rate, with a 95% Wald interval. Null when an arm is empty. */
  absoluteLift: number | null;
  absoluteLiftCi95: Interval | null;
  /** Newcombe's hybrid score interval for the same difference (method 10): better than Wald at low rates. */
  absoluteLiftNewcombeCi95: Interval | null;
  /** absoluteLift / control rate; null when the control rate is 0. */
  relativeLift: number | null;
  /** Katz log interval of the risk ratio, minus 1; null when either arm has no conversions. */
  relativeLiftCi95: Interval | null;
  /** absoluteLift × treatment contacts: conversions the campaign added. */
  incrementalConversions: number | null;
}

export const Z95 = 1.959963984540054;

const rateOf = (a: ArmCounts): number | null => (a.contacts > 0 ? a.conversions / a.contacts : null);

/** Wilson score interval for a binomial proportion; null for n = 0. */
export function wilsonInterval(conversions: number, contacts: number, z = Z95): Interval | null {
  if (contacts <= 0) return null;
  const p = conversions / contacts;
  const z2 = z * z;
  const denom = 1 + z2 / contacts;
  const centre = (p + z2 / (2 * contacts)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / contacts + z2 / (4 * contacts * contacts));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Newcombe (1998) method 10: the difference p1 − p2 with bounds built from each arm's Wilson interval. */
export function newcombeInterval(a: ArmCounts, b: ArmCounts, z = Z95): Interval | null {
  const w1 = wilsonInterval(a.conversions, a.contacts, z);
  const w2 = wilsonInterval(b.conversions, b.contacts, z);
  if (!w1 || !w2) return null;
  const p1 = a.conversions / a.contacts;
  const p2 = b.conversions / b.contacts;
  const d = p1 - p2;
  return [d - Math.sqrt((p1 - w1[0]) ** 2 + (w2[1] - p2) ** 2), d + Math.sqrt((w1[1] - p1) ** 2 + (p2 - w2[0]) ** 2)];
}

/** Katz log interval of the risk ratio p1 / p2; null when a rate is 0 (the log is undefined). */
export function katzRiskRatioInterval(a: ArmCounts, b: ArmCounts, z = Z95): Interval | null {
  if (a.contacts <= 0 || b.contacts <= 0 || a.conversions <= 0 || b.conversions <= 0) return null;
  const rr = a.conversions / a.contacts / (b.conversions / b.contacts);
  const se = Math.sqrt(1 / a.conversions - 1 / a.contacts + 1 / b.conversions - 1 / b.contacts);
  return [rr * Math.exp(-z * se), rr * Math.exp(z * se)];
}

export function computeLift(treatment: ArmCounts, control: ArmCounts): LiftResult {
  const pt = rateOf(treatment);
  const pc = rateOf(control);
  let absoluteLift: number | null = null;
  let ci: Interval | null = null;
  if (pt !== null && pc !== null) {
    absoluteLift = pt - pc;
    const se = Math.sqrt((pt * (1 - pt)) / treatment.contacts + (pc * (1 - pc)) / control.contacts);
    ci = [absoluteLift - Z95 * se, absoluteLift + Z95 * se];
  }
  const rr = katzRiskRatioInterval(treatment, control);
  return {
    treatment: { ...treatment, rate: pt, rateCi95: wilsonInterval(treatment.conversions, treatment.contacts) },
    control: { ...control, rate: pc, rateCi95: wilsonInterval(control.conversions, control.contacts) },
    absoluteLift,
    absoluteLiftCi95: ci,
    absoluteLiftNewcombeCi95: newcombeInterval(treatment, control),
    relativeLift: absoluteLift !== null && pc ? absoluteLift / pc : null,
    relativeLiftCi95: rr ? [rr[0] - 1, rr[1] - 1] : null,
    incrementalConversions: absoluteLift !== null ? absoluteLift * treatment.contacts : null,
  };
}

/** Return on spend: (incremental value − cost) / cost; null without cost. */
export function roi(incrementalValue: number | null, cost: number): number | null {
  if (incrementalValue === null || cost <= 0) return null;
  return (incrementalValue - cost) / cost;
}

/** Both arms of one score bucket (decile 1 = highest scores). */
export interface BucketCounts {
  bucket: number;
  treatment: ArmCounts;
  control: ArmCounts;
}

export interface QiniPoint {
  /** Share of all contacts targeted, from the best bucket down (0…1). */
  share: number;
  /** Treatment rate − control rate among the contacts targeted so far. */
  upliftAtK: number | null;
  /** Incremental conversions in the targeted share: conv_t − conv_c × n_t / n_c (Radcliffe's Qini curve). */
  qini: number | null;
}

export interface QiniResult {
  curve: QiniPoint[];
  /**
   * Area between the Qini curve and the random-targeting diagonal (trapezoids over the bucket points), divided by
   * the treatment contacts so it reads as conversions per treated contact. Positive: the score ranks responders
   * first. Null when a cumulative control arm is empty.
   */
  qiniCoefficient: number | null;
}

/**
 * Uplift@k and the Qini curve from per-bucket counts, targeting buckets in ascending bucket order (bucket 1 first).
 */
export function qiniCurve(buckets: readonly BucketCounts[]): QiniResult {
  const ordered = [...buckets].sort((a, b) => a.bucket - b.bucket);
  const total = ordered.reduce((n, b) => n + b.treatment.contacts + b.control.contacts, 0);
  const curve: QiniPoint[] = [{ share: 0, upliftAtK: null, qini: 0 }];
  let nt = 0, ct = 0, nc = 0, cc = 0, seen = 0;
  for (const b of ordered) {
    nt += b.treatment.contacts;
    ct += b.treatment.conversions;
    nc += b.control.contacts;
    cc += b.control.conversions;
    seen += b.treatment.contacts + b.control.contacts;
    const ok = nt > 0 && nc > 0;
    curve.push({ share: total > 0 ? seen / total : 0, upliftAtK: ok ? ct / nt - cc / nc : null, qini: ok ? ct - (cc * nt) / nc : nc === 0 && nt === 0 ? 0 : null });
  }
  if (total === 0 || nt === 0 || curve.some((p) => p.qini === null)) return { curve, qiniCoefficient: null };
  let area = 0;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1]!, b = curve[i]!;
    area += ((b.share - a.share) * (a.qini! + b.qini!)) / 2;
  }
  const random = curve[curve.length - 1]!.qini! / 2;
  return { curve, qiniCoefficient: (area - random) / nt };
}
