/**
 * Entity resolution of cleaned customer records into persons. Pure functions.
 *
 * Records with the same valid ID number and name share one *base* (the deterministic rule). Bases are then linked by a
 * scored comparison of keyed hashes and KYC fields, for candidate pairs found by blocking (in SQL), and linked
 * bases are clustered transitively by union-find. Two different valid ID numbers never end up in one cluster.
 */

/** What entity resolution compares for one record: keyed hashes and non-identifying KYC fields only. */
export interface MatchRecord {
  /** 'id:<id_hash>:<name_hash>' for a valid ID, else 'sk:<source_system>:<customer_key>'. */
  base_key: string;
  id_hash: string | null;
  id_body_hash: string | null;
  name_hash: string | null;
  phone_hash: string | null;
  birth_date: string | null;
  gender: string | null;
  city: string | null;
}

/**
 * Evidence weights (roughly log-odds that two records are one person, Fellegi–Sunter style): agreement on a
 * field adds its weight, disagreement where both sides are present subtracts the penalty. The ID body (17
 * digits) is nearly unique per person; a mobile number almost so; name and birth date are shared by many.
 */
export const MATCH_WEIGHTS = {
  idBody: { agree: 6, disagree: -4 },
  phone: { agree: 4, disagree: -1 },
  name: { agree: 3, disagree: -3 },
  birthDate: { agree: 3, disagree: -3 },
  gender: { agree: 0, disagree: -3 },
  city: { agree: 1, disagree: 0 },
} as const;

/**
 * A pair is one person at this score or above. Name + birth date + city (7) is not enough — namesakes born
 * the same day in the same city exist at bank scale; any of them plus a phone or the ID body is.
 */
export const MATCH_THRESHOLD = 8;

type Weight = { agree: number; disagree: number };

function compare(a: string | null, b: string | null, w: Weight): number {
  if (a === null || b === null) return 0;
  return a === b ? w.agree : w.disagree;
}

/** City names with or without the '市' suffix are the same city. */
function cityName(city: string | null): string | null {
  return city === null ? null : city.replace(/市$/, '');
}

/**
 * Match score of two records, or null when they must not be linked: two different valid ID numbers are two
 * persons whatever else agrees (relatives share phones and addresses).
 */
export function scorePair(a: MatchRecord, b: MatchRecord): number | null {
  if (a.id_hash !== null && b.id_hash !== null && a.id_hash !== b.id_hash) return null;
  const w = MATCH_WEIGHTS;
  return (
    compare(a.id_body_hash, b.id_body_hash, w.idBody) +
    compare(a.phone_hash, b.phone_hash, w.phone) +
    compare(a.name_hash, b.name_hash, w.name) +
    compare(a.birth_date, b.birth_date, w.birthDate) +
    compare(a.gender, b.gender, w.gender) +
    compare(cityName(a.city), cityName(b.city), w.city)
  );
}

/** An accepted link between two bases. */
export interface MatchEdge {
  a: string;
  b: string;
  score: number;
}

/** Where a base ends up: its cluster (named by the cluster's smallest base key) and its best accepted link. */
export interface BaseLink {
  base_key: string;
  cluster_key: string;
  score: number;
}

/** The valid ID number a base stands for ('id:<id_hash>'), or null for a record without one. */
function idOf(baseKey: string): string | null {
  if (!baseKey.startsWith('id:')) return null;
  const end = baseKey.indexOf(':', 3);
  return end < 0 ? baseKey : baseKey.slice(0, end);
}

/**
 * Union-find over base keys with a cannot-link rule: a union that would put two different valid ID numbers
 * into one cluster is refused (bases of one ID under different names may join). Only bases that take part in an edge are held, so memory is
 * bounded by the number of links, not the number of customers.
 */
export class BaseClusters {
  private readonly parent = new Map<string, string>();
  /** Per root: the one valid ID number in its cluster, if any. */
  private readonly idBase = new Map<string, string | null>();

  private find(x: string): string {
    let root = x;
    for (let p = this.parent.get(root); p !== undefined && p !== root; p = this.parent.get(root)) root = p;
    if (!this.parent.has(x)) {
      this.parent.set(x, x);
      this.idBase.set(x, idOf(x));
    }
    // Path compression.
    for (let cur = x; cur !== root; ) {
      const next = this.parent.get(cur)!;
      this.parent.set(cur, root);
      cur = next;
    }
    return root;
  }

  /** Joins the clusters of a and b; false when that would join two different valid IDs. */
  union(a: string, b: string): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return true;
    const ia = this.idBase.get(ra) ?? null;
    const ib = this.idBase.get(rb) ?? null;
    if (ia !== null && ib !== null && ia !== ib) return false;
    // The smaller key becomes the root, so the result does not depend on the order of unions.
    const [root, child] = ra < rb ? [ra, rb] : [rb, ra];
    this.parent.set(child, root);
    this.idBase.set(root, ia ?? ib);
    this.idBase.delete(child);
    return true;
  }

  /** Every held base with its cluster key (the cluster's smallest base key). */
  clusters(): Map<string, string> {
    const out = new Map<string, string>();
    for (const key of this.parent.keys()) out.set(key, this.find(key));
    return out;
  }
}

/**
 * Clusters scored edges: strongest first (ties by keys), so when the cannot-link rule must refuse a union it
 * refuses the weakest evidence. Returns one row per linked base, sorted by base key.
 */
export function clusterEdges(edges: readonly MatchEdge[]): BaseLink[] {
  const sorted = [...edges].sort((x, y) => y.score - x.score || (x.a < y.a ? -1 : x.a > y.a ? 1 : x.b < y.b ? -1 : x.b > y.b ? 1 : 0));
  const uf = new BaseClusters();
  const best = new Map<string, number>();
  for (const e of sorted) {
    if (!uf.union(e.a, e.b)) continue;
    for (const k of [e.a, e.b]) if (!best.has(k)) best.set(k, e.score);
  }
  const links: BaseLink[] = [];
  for (const [base, cluster] of uf.clusters()) {
    const score = best.get(base);
    if (score !== undefined) links.push({ base_key: base, cluster_key: cluster, score });
  }
  return links.sort((x, y) => (x.base_key < y.base_key ? -1 : 1));
}

/** Pairwise precision and recall of a predicted clustering against the truth, over the same records. */
export interface PairwiseMetrics {
  records: number;
  true_pairs: number;
  predicted_pairs: number;
  correct_pairs: number;
  /** correct / predicted (1 when nothing was predicted). */
  precision: number;
  /** correct / true (1 when there is nothing to find). */
  recall: number;
}

const pairs = (n: number): number => (n * (n - 1)) / 2;

/**
 * Pairwise metrics from (truth cluster, predicted cluster) per record: a pair of records is predicted when
 * they share a predicted cluster, true when they share a truth cluster. Counts pairs per cell, not per pair.
 */
export function pairwiseMetrics(records: Iterable<{ truth: string; predicted: string }>): PairwiseMetrics {
  const truth = new Map<string, number>();
  const predicted = new Map<string, number>();
  const both = new Map<string, number>();
  let n = 0;
  for (const r of records) {
    n++;
    truth.set(r.truth, (truth.get(r.truth) ?? 0) + 1);
    predicted.set(r.predicted, (predicted.get(r.predicted) ?? 0) + 1);
    const cell = `${r.truth}\u0000${r.predicted}`;
    both.set(cell, (both.get(cell) ?? 0) + 1);
  }
  const sum = (m: Map<string, number>) => [...m.values()].reduce((s, c) => s + pairs(c), 0);
  const truePairs = sum(truth);
  const predictedPairs = sum(predicted);
  const correct = sum(both);
  return {
    records: n,
    true_pairs: truePairs,
    predicted_pairs: predictedPairs,
    correct_pairs: correct,
    precision: predictedPairs === 0 ? 1 : correct / predictedPairs,
    recall: truePairs === 0 ? 1 : correct / truePairs,
  };
}
