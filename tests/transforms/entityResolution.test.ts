import {
  BaseClusters,
  clusterEdges,
  MATCH_THRESHOLD,
  MATCH_WEIGHTS,
  pairwiseMetrics,
  scorePair,
  type MatchRecord,
} from '../../transforms/entityResolution';

const record = (overrides: Partial<MatchRecord> = {}): MatchRecord => ({
  base_key: 'sk:core:C1',
  id_hash: null,
  id_body_hash: 'body1',
  name_hash: 'name1',
  phone_hash: 'phone1',
  birth_date: '1985-03-07',
  gender: 'M',
  city: '深圳',
  ...overrides,
});

describe('scorePair', () => {
  const w = MATCH_WEIGHTS;

  it('sums the weights of agreeing fields', () => {
    const a = record();
    const b = record({ base_key: 'sk:card:K1', city: '深圳市' });
    expect(scorePair(a, b)).toBe(w.idBody.agree + w.phone.agree + w.name.agree + w.birthDate.agree + w.gender.agree + w.city.agree);
  });

  it('missing values count neither way', () => {
    const a = record({ phone_hash: null, id_body_hash: null, city: null, gender: null });
    const b = record({ base_key: 'sk:card:K1' });
    expect(scorePair(a, b)).toBe(w.name.agree + w.birthDate.agree);
  });

  it('disagreements subtract', () => {
    const a = record();
    const b = record({ base_key: 'sk:card:K1', phone_hash: 'phone2', gender: 'F', city: '上海' });
    expect(scorePair(a, b)).toBe(w.idBody.agree + w.phone.disagree + w.name.agree + w.birthDate.agree + w.gender.disagree + w.city.disagree);
  });

  it('two different valid IDs can never be linked, even when everything else agrees', () => {
    expect(scorePair(record({ id_hash: 'id1' }), record({ id_hash: 'id2' }))).toBeNull();
    expect(scorePair(record({ id_hash: 'id1' }), record({ id_hash: null }))).not.toBeNull();
  });

  it('the threshold: name + birth date + city alone is not a match; with a phone or an ID body it is', () => {
    const bare = { id_body_hash: null, phone_hash: null, gender: null };
    expect(scorePair(record(bare), record({ ...bare, base_key: 'sk:card:K1' }))!).toBeLessThan(MATCH_THRESHOLD);
    expect(scorePair(record({ ...bare, phone_hash: 'p' }), record({ ...bare, phone_hash: 'p', base_key: 'sk:card:K1' }))!).toBeGreaterThanOrEqual(MATCH_THRESHOLD);
    expect(scorePair(record({ ...bare, id_body_hash: 'b' }), record({ ...bare, id_body_hash: 'b', base_key: 'sk:card:K1' }))!).toBeGreaterThanOrEqual(MATCH_THRESHOLD);
    // A shared phone alone (a family number) is not a match either.
    const family = { ...bare, phone_hash: 'p' };
    expect(scorePair(record({ ...family, name_hash: 'n1', birth_date: '1960-01-01' }), record({ ...family, base_key: 'sk:card:K1' }))!).toBeLessThan(MATCH_THRESHOLD);
  });
});

describe('BaseClusters', () => {
  it('joins transitively and names a cluster by its smallest key', () => {
    const uf = new BaseClusters();
    expect(uf.union('sk:c', 'sk:b')).toBe(true);
    expect(uf.union('sk:b', 'sk:a')).toBe(true);
    expect(uf.union('sk:x', 'sk:y')).toBe(true);
    expect(Object.fromEntries(uf.clusters())).toEqual({ 'sk:a': 'sk:a', 'sk:b': 'sk:a', 'sk:c': 'sk:a', 'sk:x': 'sk:x', 'sk:y': 'sk:x' });
  });

  it('refuses a union that would put two different valid IDs in one cluster', () => {
    const uf = new BaseClusters();
    expect(uf.union('id:1', 'sk:a')).toBe(true);
    expect(uf.union('id:2', 'sk:b')).toBe(true);
    expect(uf.union('sk:a', 'sk:b')).toBe(false);
    expect(uf.union('sk:a', 'id:1')).toBe(true);
    const clusters = uf.clusters();
    expect(clusters.get('sk:a')).not.toBe(clusters.get('sk:b'));
  });

  it('bases of one ID under different names may join; of different IDs may not', () => {
    const uf = new BaseClusters();
    expect(uf.union('id:1:nameA', 'id:1:nameB')).toBe(true);
    expect(uf.union('id:1:nameA', 'id:2:nameA')).toBe(false);
    expect(uf.union('id:1:', 'sk:x')).toBe(true);
    expect(uf.union('sk:x', 'id:1:nameB')).toBe(true);
    expect(new Set(['id:1:nameA', 'id:1:nameB', 'id:1:', 'sk:x'].map((k) => uf.clusters().get(k))).size).toBe(1);
  });
});

describe('clusterEdges', () => {
  it('gives every linked base its cluster and best score, sorted by base key', () => {
    const links = clusterEdges([
      { a: 'sk:b', b: 'id:9', score: 10 },
      { a: 'sk:b', b: 'sk:c', score: 12 },
    ]);
    expect(links).toEqual([
      { base_key: 'id:9', cluster_key: 'id:9', score: 10 },
      { base_key: 'sk:b', cluster_key: 'id:9', score: 12 },
      { base_key: 'sk:c', cluster_key: 'id:9', score: 12 },
    ]);
  });

  it('when the cannot-link rule bites, the weaker evidence loses, whatever the input order', () => {
    const edges = [
      { a: 'sk:x', b: 'id:1', score: 9 },
      { a: 'sk:x', b: 'id:2', score: 16 },
    ];
    const expected = [
      { base_key: 'id:2', cluster_key: 'id:2', score: 16 },
      { base_key: 'sk:x', cluster_key: 'id:2', score: 16 },
    ];
    expect(clusterEdges(edges)).toEqual(expected);
    expect(clusterEdges([...edges].reverse())).toEqual(expected);
  });
});

describe('pairwiseMetrics', () => {
  it('counts pairs per truth/predicted cell', () => {
    // Truth: {a,b,c} {d}; predicted: {a,b} {c,d}. True pairs ab ac bc; predicted ab cd; correct ab.
    const m = pairwiseMetrics([
      { truth: 'P1', predicted: 'G1' },
      { truth: 'P1', predicted: 'G1' },
      { truth: 'P1', predicted: 'G2' },
      { truth: 'P2', predicted: 'G2' },
    ]);
    expect(m).toEqual({ records: 4, true_pairs: 3, predicted_pairs: 2, correct_pairs: 1, precision: 0.5, recall: 1 / 3 });
  });

  it('is 1/1 for a perfect clustering and for singletons only', () => {
    expect(pairwiseMetrics([{ truth: 'P1', predicted: 'X' }, { truth: 'P1', predicted: 'X' }])).toMatchObject({ precision: 1, recall: 1 });
    expect(pairwiseMetrics([{ truth: 'P1', predicted: 'X' }, { truth: 'P2', predicted: 'Y' }])).toMatchObject({ precision: 1, recall: 1, true_pairs: 0 });
  });
});
