import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SOURCES, sourcePath, type SourceContract } from '../../config/sources';
import type { SourceName } from '../../config/sourceNames';
import { generateSourceExtracts } from '../../generator/generate';
import { csvUnitJob, validateUnit, type CsvUnitReply, type CsvWorkerInit } from '../../sourceReader/csvUnit';
import { CanonicalRecordCheck, FALSE_VALUE, TRUE_VALUE } from '../../transforms/canonicalRecord';
import { KeyFilter } from '../../transforms/keyFilter';
import { RecordClassifier, type RowOutcome } from '../../transforms/recordClassifier';
import { createRng } from '../../transforms/random';
import { endOfDayMs } from '../../transforms/validateRow';
import { messyTransactions } from '../helpers/messyCsv';

const AS_OF = '2026-11-20';
const context = { asOf: AS_OF, asOfEndMs: endOfDayMs(AS_OF, 'Asia/Shanghai') };
const dir = mkdtempSync(path.join(os.tmpdir(), 'portrait-canonical-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let extracts: Record<string, string[]>;
beforeAll(async () => {
  await generateSourceExtracts({ customers: 400, seed: 5, outDir: dir, asOf: AS_OF });
  extracts = {};
  for (const name of Object.keys(SOURCES) as SourceName[]) {
    const contract = SOURCES[name];
    if (contract.format !== 'csv' || !contract.path) continue;
    extracts[name] = readFileSync(path.join(dir, sourcePath(contract, AS_OF)), 'utf8').split('\n');
  }
});

function init(contract: SourceContract, header: string[]): CsvWorkerInit {
  return { contract, header, order: null, charset: 'utf-8', context, rowNumberWidth: 12, maxRecordChars: 1 << 20, keyFilter: new KeyFilter(1 << 20).shared };
}

/** What the string path does with one line: its outcome, and whether it would go to COPY as it is. */
function stringOutcome(contract: SourceContract, header: string[], line: string): RowOutcome | undefined {
  const out: RowOutcome[] = [];
  const fields = line.split(',');
  new RecordClassifier(contract, header, null, 'utf-8', context).classify([{ kind: 'record', fields, line: 1, raw: line }], line.includes('\uFFFD'), out);
  return out[0];
}

/** Bytes a bank extract's values are spoiled with: spaces, quotes, CR, signs, separators, non-ASCII, tabs. */
const SPOILERS = [' ', '"', '\r', '-', '+', '.', ',', '0', '9', 'T', ':', 'é', '\t', 'x', '', '00', '-0', '\u3000', '\uFEFF', 'Y'];

function spoil(line: string, rng: { next(): number }): string {
  const times = 1 + Math.floor(rng.next() * 2);
  let s = line;
  for (let t = 0; t < times; t++) {
    const at = Math.floor(rng.next() * (s.length + 1));
    const by = SPOILERS[Math.floor(rng.next() * SPOILERS.length)]!;
    const cut = rng.next() < 0.5 ? 1 : 0;
    s = s.slice(0, at) + by + s.slice(at + cut);
  }
  return s;
}

describe('CanonicalRecordCheck', () => {
  it('passes the generator’s plain lines of the large sources', () => {
    for (const name of ['transactions', 'balances', 'app_events', 'accounts', 'loans', 'consent', 'campaign_contacts'] as const) {
      const contract = SOURCES[name];
      const [head, ...lines] = extracts[name]!;
      const check = CanonicalRecordCheck.forSource(contract, true, context)!;
      expect(check).not.toBeNull();
      const rows = lines.filter((l) => l.length > 0);
      const passed = rows.filter((l) => check.lineEnd(Buffer.from(`${l}\n`), 0) === Buffer.byteLength(l)).length;
      expect({ name, head, share: passed / rows.length > 0.9 }).toEqual({ name, head, share: true });
    }
  });

  it('says yes only to lines the string path loads unchanged and passes through to COPY', () => {
    const rng = createRng(11);
    let yes = 0;
    let spoiledYes = 0;
    let rewritten = 0;
    for (const [name, [head, ...lines]] of Object.entries(extracts)) {
      const contract = SOURCES[name as SourceName];
      const header = head!.split(',');
      const check = CanonicalRecordCheck.forSource(contract, true, context);
      if (!check) continue;
      for (const original of lines.slice(0, 400)) {
        for (let v = 0; v < 12; v++) {
          const line = v === 0 ? original : spoil(original, rng);
          if (line.includes('\n')) continue;
          const bytes = Buffer.from(`${line}\n`, 'utf8');
          const lf = check.lineEnd(bytes, 0);
          if (lf < 0) continue;
          expect(lf).toBe(bytes.length - 1);
          yes++;
          if (v > 0) spoiledYes++;
          const o = stringOutcome(contract, header, line);
          if (!check.rewritten) {
            // A yes is a loaded row whose COPY text is the line itself…
            expect({ name, line, ok: o?.ok, copyLine: o?.ok ? o.copyLine : undefined }).toEqual({ name, line, ok: true, copyLine: line });
            continue;
          }
          // …or, for a bool spelled otherwise, whose values are the fields with that bool written as validation writes it.
          rewritten++;
          const values = line.split(',').map((v, f) => (v === '' ? null : check.fieldValues[f] === TRUE_VALUE ? 'true' : check.fieldValues[f] === FALSE_VALUE ? 'false' : v));
          expect({ name, line, ok: o?.ok, copyLine: o?.ok ? o.copyLine : undefined, values: o?.ok ? o.values : undefined }).toEqual({ name, line, ok: true, copyLine: undefined, values });
        }
      }
    }
    // Spoiled lines that stay canonical (a digit for a digit) exist, so the check is not just "no" to anything altered.
    expect(yes).toBeGreaterThan(1000);
    expect(spoiledYes).toBeGreaterThan(100);
    expect(rewritten).toBeGreaterThan(100);
  });

  it('is not used for layouts the string path re-encodes', () => {
    const semicolon = { ...SOURCES.transactions, csv: { ...SOURCES.transactions.csv, delimiter: ';' } };
    expect(CanonicalRecordCheck.forSource(semicolon, true, context)).toBeNull();
    expect(CanonicalRecordCheck.forSource(SOURCES.transactions, false, context)).toBeNull();
    const fractionalMin = { ...SOURCES.transactions, columns: SOURCES.transactions.columns.map((c) => (c.name === 'amount' ? { ...c, min: 0.5 } : c)) };
    expect(CanonicalRecordCheck.forSource(fractionalMin, true, context)).toBeNull();
  });
});

describe('validateUnit with and without the byte check', () => {
  const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  /** The reply with its byte arrays as hex digests' input: compared as buffers, not element by element. */
  const comparable = (r: CsvUnitReply) => ({
    clean: r.clean,
    records: r.records,
    lines: r.lines,
    copy: bytesOf(r.copy).toString('latin1'),
    rowOffsets: bytesOf(r.rowOffsets).toString('hex'),
    localRows: bytesOf(r.localRows).toString('hex'),
    keyCandidates: r.keyCandidates,
    rejects: JSON.stringify(r.rejects),
  });
  const both = (contract: SourceContract, header: string[], text: string) => {
    const bytes = Buffer.from(text, 'utf8');
    const fastJob = csvUnitJob(init(contract, header));
    const slowJob = csvUnitJob(init(contract, header), false);
    const fast = validateUnit(fastJob, bytes);
    const slow = validateUnit(slowJob, bytes);
    expect(slow.canonicalRows).toBe(0);
    // Read again against the same filters, every loaded row's key is a candidate: the keys themselves compare.
    const fastKeys = validateUnit(fastJob, bytes).keyCandidates;
    const slowKeys = validateUnit(slowJob, bytes).keyCandidates;
    expect(fastKeys.length).toBe(fast.rowOffsets.length);
    return { withCheck: { ...comparable(fast), keys: fastKeys }, strings: { ...comparable(slow), keys: slowKeys }, canonicalRows: fast.canonicalRows, records: fast.records };
  };

  it('gives the same reply, byte for byte, for every source with spoiled lines mixed in', () => {
    const rng = createRng(23);
    for (const [name, [head, ...lines]] of Object.entries(extracts)) {
      const contract = SOURCES[name as SourceName];
      const mixed = lines.filter((l) => l.length > 0).map((l) => (rng.next() < 0.3 ? spoil(l, rng) : l));
      for (const ending of ['\n', '']) {
        const { withCheck, strings, records } = both(contract, head!.split(','), mixed.join('\n') + ending);
        expect({ name, ending, clean: withCheck.clean, r: withCheck.records, l: withCheck.lines }).toEqual({ name, ending, clean: strings.clean, r: strings.records, l: strings.lines });
        expect({ name, ending, ...withCheck }).toEqual({ name, ending, ...strings });
        expect(records).toBeGreaterThan(0);
      }
    }
  });

  it('gives the same reply for the messy transactions (quoted fields, line breaks in quotes, CRLF, blank lines)', () => {
    const [head, ...rest] = messyTransactions(20_000).split('\n');
    const text = rest.join('\n') + '\n';
    const { withCheck, strings, canonicalRows, records } = both(SOURCES.transactions, head!.split(','), text);
    expect(withCheck).toEqual(strings);
    expect(JSON.parse(withCheck.rejects).length).toBeGreaterThan(100);
    expect(withCheck.clean).toBe(true);
    // Most lines are plain and take the byte path; the rest (about a tenth) the string path.
    expect(canonicalRows / records).toBeGreaterThan(0.5);
  });
});
