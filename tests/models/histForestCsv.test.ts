import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { detectDelimiter, parseCsv, typeColumn } from '../../models/csv';
import { evaluateCsv } from '../../models/evaluateCsv';
import { createUniform } from '../../models/prng';

const UCI = '/work/shared/data/bank-marketing/bank-additional-full.csv';

describe('csv', () => {
  it('detects the delimiter among , ; tab |', () => {
    expect(detectDelimiter('a;b;"c,d"\n1;2;3')).toBe(';');
    expect(detectDelimiter('a\tb\tc\n')).toBe('\t');
    expect(detectDelimiter('a|b|c\n')).toBe('|');
    expect(detectDelimiter('a,b\n')).toBe(',');
  });

  it('parses quoted fields, escaped quotes, embedded delimiters and newlines, CRLF', () => {
    const t = parseCsv('\ufeffname;"note";n\r\n"Smith; J";"said ""hi""\nthen left";3\r\nLee;;\r\n');
    expect(t.names).toEqual(['name', 'note', 'n']);
    expect(t.columns[0]).toEqual(['Smith; J', 'Lee']);
    expect(t.columns[1]).toEqual(['said "hi"\nthen left', '']);
    expect(t.columns[2]).toEqual(['3', '']);
  });

  it('types columns: numeric when every non-missing value is a number', () => {
    expect(Array.from(typeColumn(['1', ' 2.5', '', 'NA']) as Float64Array)).toEqual([1, 2.5, NaN, NaN]);
    expect(typeColumn(['1', 'x', ''])).toEqual(['1', 'x', null]);
  });

  it('reports a ragged row with its number', () => {
    expect(() => parseCsv('a,b\n1,2\n3\n')).toThrow(/data row 2 has 1 fields/);
  });
});

describe('evaluateCsv', () => {
  it('runs k-fold on a small semicolon file with a categorical column', async () => {
    const u = createUniform(3, 3);
    const lines = ['"x";"colour";"flag";"target"'];
    for (let i = 0; i < 600; i++) {
      const x = u();
      const colour = ['red', 'green', 'blue'][Math.floor(u() * 3)]!;
      const y = u() < x * (colour === 'red' ? 0.9 : 0.3) ? 'yes' : 'no';
      lines.push(`${x.toFixed(3)};"${colour}";${u() < 0.5 ? 1 : 0};"${y}"`);
    }
    const file = path.join(os.tmpdir(), `histforest-eval-${process.pid}.csv`);
    fs.writeFileSync(file, lines.join('\n'));
    try {
      const r = await evaluateCsv({ file, label: 'target', folds: 3, seed: 1, params: { nEstimators: 20, minSamplesLeaf: 5 }, threads: 1 });
      expect(r.rows).toBe(600);
      expect(r.features).toBe(3);
      expect(r.auc_mean).toBeGreaterThan(0.7);
      expect(r.fold_aucs).toHaveLength(3);
      expect(r.top_decile_lift).toBeGreaterThan(1);
      await expect(evaluateCsv({ file, label: 'nope', seed: 1 })).rejects.toThrow(/label column 'nope' not in/);
    } finally {
      fs.unlinkSync(file);
    }
  });

  (fs.existsSync(UCI) ? it : it.skip)('UCI bank-marketing (duration excluded): 5-fold AUC >= 0.79', async () => {
    const r = await evaluateCsv({ file: UCI, label: 'y', positive: 'yes', exclude: ['duration'], folds: 5, seed: 42, params: { nEstimators: 100, minSamplesLeaf: 5, maxFeatures: 'sqrt' } });
    expect(r.rows).toBe(41188);
    expect(r.features).toBe(19);
    expect(r.auc_mean).toBeGreaterThanOrEqual(0.79);
  });
});
