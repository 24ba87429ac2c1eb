import { CsvRecordSplitter, type CsvItem } from '../../transforms/csvRecords';
import { createRng } from '../../transforms/random';

function splitAll(text: string, chunkSizes: number[] | null = null, opts = { delimiter: ',', quote: '"', maxRecordChars: 1 << 20 }): CsvItem[] {
  const splitter = new CsvRecordSplitter(opts);
  const out: CsvItem[] = [];
  if (!chunkSizes) splitter.push(text, out);
  else {
    let pos = 0;
    for (let i = 0; pos < text.length; i++) {
      const size = chunkSizes[i % chunkSizes.length]!;
      splitter.push(text.slice(pos, pos + size), out);
      pos += size;
    }
  }
  splitter.end(out);
  return out;
}

const fields = (items: CsvItem[]) => items.map((i) => (i.kind === 'record' ? i.fields : `${i.kind}:${i.code}`));

describe('CsvRecordSplitter', () => {
  it('splits plain, quoted, CRLF and last-line-without-newline records, with their start lines', () => {
    const items = splitAll('a,b,c\r\n"x,1","say ""hi""",\n"multi\nline",2,3\nlast,1,2');
    expect(fields(items)).toEqual([['a', 'b', 'c'], ['x,1', 'say "hi"', ''], ['multi\nline', '2', '3'], ['last', '1', '2']]);
    expect(items.map((i) => i.line)).toEqual([1, 2, 3, 5]);
  });

  it('honours another delimiter and quote character', () => {
    expect(fields(splitAll("a|'b|c'|d\n", null, { delimiter: '|', quote: "'", maxRecordChars: 100 }))).toEqual([['a', 'b|c', 'd']]);
  });

  it('reports an unclosed quote at the end, a stray character after a quote, and skips blank lines', () => {
    expect(fields(splitAll('a,b\n\n"open,1\n'))).toEqual([['a', 'b'], 'error:unterminated_quote']);
    const items = splitAll('"a"x,1\nb,2\n');
    expect(fields(items)).toEqual(['error:bad_quote', ['b', '2']]);
    expect(items[1]!.line).toBe(2);
  });

  it('reports a record longer than the limit once and resumes at the next line', () => {
    const long = 'z'.repeat(500);
    expect(fields(splitAll(`a,1\n${long}\nb,2\n`, [7], { delimiter: ',', quote: '"', maxRecordChars: 100 }))).toEqual([['a', '1'], 'error:record_too_long', ['b', '2']]);
    expect(fields(splitAll(`a,1\n${long}\nb,2\n`, null, { delimiter: ',', quote: '"', maxRecordChars: 100 }))).toEqual([['a', '1'], 'error:record_too_long', ['b', '2']]);
  });

  it('gives the same records whatever the chunk boundaries (random quoted CSV)', () => {
    const rng = createRng(42);
    const alphabet = ['a', 'b', ',', '"', '\n', '\r\n', '中', ' '];
    const rows: string[] = [];
    for (let r = 0; r < 300; r++) {
      const row: string[] = [];
      for (let f = 0; f < 1 + rng.int(0, 3); f++) {
        let v = '';
        for (let k = rng.int(0, 5); k > 0; k--) v += rng.pick(alphabet);
        row.push(/[",\r\n]/.test(v) || v === '' ? `"${v.replace(/"/g, '""')}"` : v);
      }
      rows.push(row.join(','));
    }
    const text = rows.join('\n') + '\n';
    const whole = splitAll(text, null);
    expect(whole.every((i) => i.kind === 'record')).toBe(true);
    expect(whole).toHaveLength(300);
    for (const sizes of [[1], [2, 3], [7], [64, 1, 5]]) expect(splitAll(text, sizes)).toEqual(whole);
  });
});
