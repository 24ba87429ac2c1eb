/**
 * Model lifecycle decisions, pure: time-based holdout split, holdout metrics, prior correction of class-weighted
 * probabilities, and the champion/candidate rule. The registry activity (activities/modelRegistry.ts) does the I/O.
 */
import { averagePrecision, calibrationTable, gainsTable, logLoss, rocAuc, rocCurve, topDecileCapture, type CalibrationBin, type GainsRow } from './metrics';

export interface DatedLabel {
  /** Feature date of the training point (YYYY-MM-DD): the day before the contact. */
  as_of: string;
  label: 0 | 1;
}

export interface TimeSplit {
  /** Rows with as_of >= holdoutFrom are held out; all earlier rows train. */
  holdoutFrom: string | null;
  train: number[];
  holdout: number[];
}

/**
 * Splits by time: the latest dates (whole days, never one day on both sides) that make up about `share` of the rows
 * are held out, so the holdout is "the future" for the model, as scoring will be. The earliest day always trains.
 * Returns holdoutFrom = null (no holdout) when there is a single day.
 */
export function timeSplit(rows: readonly DatedLabel[], share: number): TimeSplit {
  if (!(share > 0 && share < 1)) throw new RangeError(`holdout share must be in (0, 1), got ${share}`);
  const perDay = new Map<string, number>();
  for (const r of rows) perDay.set(r.as_of, (perDay.get(r.as_of) ?? 0) + 1);
  const days = [...perDay.keys()].sort();
  const target = rows.length * share;
  let held = 0;
  let cut = days.length;
  // Walk back from the latest day while the holdout stays at or under the target; always keep one day for training.
  while (cut > 1 && held + perDay.get(days[cut - 1]!)! <= target) {
    cut--;
    held += perDay.get(days[cut]!)!;
  }
  if (cut === days.length && days.length > 1) cut = days.length - 1; // at least the latest day is held out
  const holdoutFrom = cut < days.length ? days[cut]! : null;
  const train: number[] = [];
  const holdout: number[] = [];
  rows.forEach((r, i) => (holdoutFrom !== null && r.as_of >= holdoutFrom ? holdout : train).push(i));
  return { holdoutFrom, train, holdout };
}

export interface HoldoutMetrics {
  rows: number;
  positives: number;
  auc: number;
  pr_auc: number;
  log_loss: number;
  top_decile_capture: number;
  calibration: CalibrationBin[];
  gains: GainsRow[];
  /** ROC curve points [fpr, tpr], at most 51 (absent in models registered before it was stored). */
  roc?: [number, number][];
}

/** Metrics on held-out rows; probabilities should already be calibrated to the holdout's class mix. */
export function holdoutMetrics(probs: ArrayLike<number>, labels: ArrayLike<number>): HoldoutMetrics {
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === 1) positives++;
  return {
    rows: labels.length,
    positives,
    auc: round(rocAuc(probs, labels)),
    pr_auc: round(averagePrecision(probs, labels)),
    log_loss: round(logLoss(probs, labels)),
    top_decile_capture: round(topDecileCapture(probs, labels)),
    calibration: calibrationTable(probs, labels).map((b) => ({ ...b, meanPredicted: round(b.meanPredicted), observedRate: round(b.observedRate) })),
    gains: gainsTable(probs, labels).map((g) => ({ ...g, rate: round(g.rate), lift: round(g.lift), cumulativeCapture: round(g.cumulativeCapture), cumulativeLift: round(g.cumulativeLift) })),
    roc: rocCurve(probs, labels).map(([x, y]) => [round(x), round(y)]),
  };
}

/**
 * Prior correction for a forest trained with balanced class weights: its probabilities behave as if both classes
 * were equally common, so multiplying the odds by the true odds of the population gives calibrated probabilities
 * (King & Zeng 2001). `positiveRate` is the population's share of positives, in (0, 1).
 */
export function priorCorrect(p: number, positiveRate: number): number {
  if (!(positiveRate > 0 && positiveRate < 1)) throw new RangeError(`positive rate must be in (0, 1), got ${positiveRate}`);
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const odds = (p / (1 - p)) * (positiveRate / (1 - positiveRate));
  return odds / (1 + odds);
}

export function priorCorrectAll(probs: ArrayLike<number>, positiveRate: number): Float64Array {
  const out = new Float64Array(probs.length);
  for (let i = 0; i < probs.length; i++) out[i] = priorCorrect(probs[i]!, positiveRate);
  return out;
}

export interface PromotionInput {
  candidateAuc: number;
  /** Champion AUC on the same holdout rows; null when there is no champion. */
  championAuc: number | null;
  holdoutRows: number;
  holdoutPositives: number;
  /** Fewest positives (and negatives) a holdout needs before it can judge anything. */
  minHoldoutPositives: number;
}

export interface PromotionDecision {
  promote: boolean;
  reason: 'no_champion' | 'at_least_as_good' | 'worse_than_champion' | 'holdout_too_small';
  detail: string;
}

/**
 * A candidate replaces the champion only if it is at least as good on the same holdout (AUC, rounded to 4 places so
 * float noise cannot decide). A holdout with too few positives cannot judge, so the champion stays.
 */
export function decidePromotion(input: PromotionInput): PromotionDecision {
  if (input.championAuc === null) return { promote: true, reason: 'no_champion', detail: `first model for the product (holdout AUC ${fmt(input.candidateAuc)})` };
  const negatives = input.holdoutRows - input.holdoutPositives;
  if (input.holdoutPositives < input.minHoldoutPositives || negatives < input.minHoldoutPositives || !Number.isFinite(input.candidateAuc) || !Number.isFinite(input.championAuc)) {
    return { promote: false, reason: 'holdout_too_small', detail: `holdout has ${input.holdoutPositives} positives and ${negatives} negatives (need ${input.minHoldoutPositives} of each): champion kept` };
  }
  const cand = round(input.candidateAuc);
  const champ = round(input.championAuc);
  if (cand >= champ) return { promote: true, reason: 'at_least_as_good', detail: `candidate AUC ${fmt(cand)} >= champion AUC ${fmt(champ)} on the same ${input.holdoutRows} holdout rows` };
  return { promote: false, reason: 'worse_than_champion', detail: `candidate AUC ${fmt(cand)} < champion AUC ${fmt(champ)} on the same ${input.holdoutRows} holdout rows: champion kept` };
}

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

export class LeakageError extends Error {
  override readonly name = 'LeakageError';
}

/**
 * Training features must be tags computed as of the day before each contact (the catalogue's point-in-time tags).
 * Anything else — an outcome column, a post-contact field, a hand-made column — could carry the label: rejected.
 */
export function assertPointInTimeFeatures(features: readonly string[], pointInTime: ReadonlySet<string>): void {
  const leaking = features.filter((f) => !pointInTime.has(f));
  if (leaking.length) {
    throw new LeakageError(
      `training features must be point-in-time tags computed as of the day before each contact; not allowed: ${leaking.join(', ')} (they may carry information from after the contact)`,
    );
  }
}
