/**
 * Incremental CSV record splitter (RFC 4180 quoting, any one-character delimiter and quote, LF or CRLF). Text is
 * pushed in chunks of any size; records come out with the physical line they start on. It never throws on bad
 * input: an unclosed quote at the end, a stray character after a closing quote or a record longer than the limit
 * come out as `error` items, so every line of a file is accounted for. Memory is bounded by the record limit.
 */
export type CsvItem =
  | { kind: 'record'; fields: string[]; line: number; raw: string }
  | { kind: 'error'; code: CsvErrorCode; message: string; line: number; raw: string };

export type CsvErrorCode = 'unterminated_quote' | 'bad_quote' | 'record_too_long';

export interface CsvSplitterOptions {
  delimiter: string;
  quote: string;
  /** Longest record kept, in characters; a longer one is reported and skipped up to the next line break. */
  maxRecordChars: number;
  /** Physical line number of the first line pushed (default 1): text may start in the middle of a file. */
  firstLine?: number;
}

const RAW_KEPT = 1000;

export class CsvRecordSplitter {
  private buf = '';
  private line: number;
  /** Characters of the longest record (or malformed line) split so far, line break excluded. */
  private longest = 0;
  private skipping = false;
  private skipStartLine = 0;
  private skipHead = '';

  constructor(private readonly opts: CsvSplitterOptions) {
    this.line = opts.firstLine ?? 1;
  }

  /** Physical line number of the next record (after end(): one past the last line). */
  get nextLine(): number {
    return this.line;
  }

  /**
   * Whether the text pushed so far ends between records and no record in it came near the length limit: then
   * the same text pushed in any other pieces splits into the same items (the limit is only checked at piece ends).
   */
  get endsCleanly(): boolean {
    return this.buf.length === 0 && !this.skipping && this.longest <= this.opts.maxRecordChars;
  }

  /** Splits what is complete in `text` (plus what was left over) and keeps the incomplete tail. */
  push(text: string, out: CsvItem[]): void {
    this.buf = this.buf.length ? this.buf + text : text;
    this.split(out, false);
  }

  /** Flushes the tail at end of input: a last line without a line break is a record; an open quote is an error. */
  end(out: CsvItem[]): void {
    if (this.skipping) {
      this.reportSkipped(out);
      this.skipping = false;
      this.buf = '';
      return;
    }
    if (this.buf.length === 0) return;
    this.split(out, true);
    if (this.buf.length > 0) {
      out.push({ kind: 'error', code: 'unterminated_quote', message: `line ${this.line}: a quoted field is never closed (file truncated?)`, line: this.line, raw: this.buf.slice(0, RAW_KEPT) });
      this.buf = '';
    }
  }

  private reportSkipped(out: CsvItem[]): void {
    out.push({ kind: 'error', code: 'record_too_long', message: `line ${this.skipStartLine}: record longer than ${this.opts.maxRecordChars} characters, skipped to the next line break`, line: this.skipStartLine, raw: this.skipHead });
  }

  private split(out: CsvItem[], final: boolean): void {
    const { delimiter, quote, maxRecordChars } = this.opts;
    const buf = final ? this.buf + '\n' : this.buf;
    let pos = 0;
    let nextQuote = buf.indexOf(quote);
    for (;;) {
      if (this.skipping) {
        const nl = buf.indexOf('\n', pos);
        if (nl < 0) {
          this.buf = '';
          return;
        }
        this.reportSkipped(out);
        this.line += 1 + countNewlines(buf, pos, nl);
        this.skipping = false;
        pos = nl + 1;
        continue;
      }
      const nl = buf.indexOf('\n', pos);
      if (nl < 0) break;
      if (nextQuote >= 0 && nextQuote < pos) nextQuote = buf.indexOf(quote, pos);
      if (nextQuote < 0 || nextQuote > nl) {
        // Fast path: no quote on this line.
        const end = nl > pos && buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        if (nl - pos > this.longest) this.longest = nl - pos;
        if (end > pos) {
          if (end - pos > maxRecordChars) {
            out.push({ kind: 'error', code: 'record_too_long', message: `line ${this.line}: record longer than ${maxRecordChars} characters`, line: this.line, raw: buf.slice(pos, pos + RAW_KEPT) });
          } else {
            const raw = buf.slice(pos, end);
            out.push({ kind: 'record', fields: raw.split(delimiter), line: this.line, raw });
          }
        }
        this.line++;
        pos = nl + 1;
        continue;
      }
      const quoted = this.splitQuoted(buf, pos, out);
      if (quoted < 0) break;
      pos = quoted;
    }
    const rest = buf.length - pos;
    if (!final && rest > maxRecordChars) {
      this.skipping = true;
      this.skipStartLine = this.line;
      this.skipHead = buf.slice(pos, pos + RAW_KEPT);
      this.buf = '';
      return;
    }
    this.buf = final ? buf.slice(pos, buf.length - 1) : buf.slice(pos);
  }

  /** Parses one record that contains a quote; returns the position after it, or -1 when more text is needed. */
  private splitQuoted(buf: string, start: number, out: CsvItem[]): number {
    const { delimiter, quote } = this.opts;
    const fields: string[] = [];
    let i = start;
    for (;;) {
      if (buf[i] === quote) {
        let value = '';
        let j = i + 1;
        for (;;) {
          const q = buf.indexOf(quote, j);
          if (q < 0 || q + 1 >= buf.length) return -1;
          value += buf.slice(j, q);
          if (buf[q + 1] === quote) {
            value += quote;
            j = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        fields.push(value);
        const c = buf[i];
        if (c === delimiter) {
          i++;
          continue;
        }
        if (c === '\r' && i + 1 >= buf.length) return -1;
        if (c === '\n' || (c === '\r' && buf[i + 1] === '\n')) return this.emit(buf, start, c === '\r' ? i + 1 : i, fields, out);
        // A character after the closing quote: the record is malformed up to its line break.
        const nl = buf.indexOf('\n', i);
        if (nl < 0) return -1;
        const raw = trimCr(buf.slice(start, nl));
        if (nl - start > this.longest) this.longest = nl - start;
        out.push({ kind: 'error', code: 'bad_quote', message: `line ${this.line}: unexpected character after a closing quote in field ${fields.length}`, line: this.line, raw: raw.slice(0, RAW_KEPT) });
        this.line += 1 + countNewlines(buf, start, nl);
        return nl + 1;
      }
      const d = buf.indexOf(delimiter, i);
      const nl = buf.indexOf('\n', i);
      if (nl < 0) return -1;
      if (d >= 0 && d < nl) {
        fields.push(buf.slice(i, d));
        i = d + 1;
        continue;
      }
      fields.push(trimCr(buf.slice(i, nl)));
      return this.emit(buf, start, nl, fields, out);
    }
  }

  private emit(buf: string, start: number, nl: number, fields: string[], out: CsvItem[]): number {
    if (nl - start > this.longest) this.longest = nl - start;
    out.push({ kind: 'record', fields, line: this.line, raw: trimCr(buf.slice(start, nl)) });
    this.line += 1 + countNewlines(buf, start, nl);
    return nl + 1;
  }
}

function trimCr(s: string): string {
  return s.endsWith('\r') ? s.slice(0, -1) : s;
}

function countNewlines(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = s.indexOf('\n', from); i >= 0 && i < to; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
