/**
 * COPY ... (format csv) rows encoded straight into a byte buffer: every value quoted, NULL an unquoted empty
 * field. Building bytes instead of concatenated strings keeps garbage collection out of the hot loop.
 */
export class CsvCopyBuffer {
  private buf: Buffer;
  private len = 0;

  constructor(private readonly flushAt = 1 << 20) {
    this.buf = Buffer.allocUnsafe(flushAt * 2);
  }

  /**
   * Appends one row: the leading values, then `line` when given (already COPY csv text of the values, no line
   * break), else the values. Returns true once the buffer is worth flushing.
   */
  row(lead: readonly string[], values: readonly (string | null)[], line?: string): boolean {
    for (let i = 0; i < lead.length; i++) this.value(lead[i]!, i === 0);
    this.rest(line, values, lead.length === 0);
    return this.len >= this.flushAt;
  }

  /**
   * Appends one row that starts with a row number of `width` zeros filled in later, then `line` or `values` as in
   * row(). Returns the byte offset of the row number.
   */
  numberedRow(width: number, line: string | undefined, values: readonly (string | null)[]): number {
    this.ensure(width);
    const at = this.len;
    this.buf.fill(0x30, at, at + width);
    this.len += width;
    this.rest(line, values, false);
    return at;
  }

  /**
   * numberedRow() for a line given as bytes src[start, end) (already COPY csv text, no line break); `lead` is the
   * row number's `width` zeros and a comma. Copied by loops: rows are short, and a view per row for
   * Buffer.copy or set() costs more than the copy.
   */
  numberedBytes(lead: Uint8Array, width: number, src: Uint8Array, start: number, end: number): number {
    this.ensure(lead.length + end - start + 1);
    const buf = this.buf;
    const row = this.len;
    let at = row;
    buf.set(lead, at);
    at += lead.length;
    buf.set(src.subarray(start, end), at);
    at += end - start;
    buf[at++] = 0x0a;
    this.len = at;
    return row + lead.length - width - 1;
  }

  /**
   * numberedRow() for values given as fields of src (no quote in any), each written quoted and NULL (empty) as
   * nothing, as rest() writes values; a field with a `values` entry other than 0 is written as `rewrites[entry]`.
   */
  numberedFields(lead: Uint8Array, width: number, src: Uint8Array, starts: Int32Array, ends: Int32Array, values: Uint8Array, rewrites: Record<number, Uint8Array>): number {
    let size = lead.length + 1;
    for (let f = 0; f < starts.length; f++) size += ends[f]! - starts[f]! + 9;
    this.ensure(size);
    const buf = this.buf;
    const row = this.len;
    let at = row;
    buf.set(lead, at);
    at += lead.length;
    for (let f = 0; f < starts.length; f++) {
      if (f > 0) buf[at++] = 0x2c;
      const a = starts[f]!;
      const b = ends[f]!;
      if (a === b) continue;
      buf[at++] = 0x22;
      const rewrite = values[f] === 0 ? null : rewrites[values[f]!]!;
      if (rewrite) {
        buf.set(rewrite, at);
        at += rewrite.length;
      } else {
        buf.set(src.subarray(a, b), at);
        at += b - a;
      }
      buf[at++] = 0x22;
    }
    buf[at++] = 0x0a;
    this.len = at;
    return row + lead.length - width - 1;
  }

  private rest(line: string | undefined, values: readonly (string | null)[], first: boolean): void {
    if (line !== undefined) {
      this.ensure(line.length * 3 + 1);
      if (!first) this.buf[this.len++] = 0x2c;
      this.len += this.buf.write(line, this.len, 'utf8');
    } else for (let i = 0; i < values.length; i++) this.value(values[i]!, first && i === 0);
    this.ensure(1);
    this.buf[this.len++] = 0x0a;
  }

  /** The bytes so far, without taking them (valid until the next write). */
  get bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  /** The bytes so far (a fresh buffer takes over). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(this.flushAt * 2, this.buf.length));
    this.len = 0;
    return out;
  }

  private value(v: string | null, first: boolean): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; quotes may double.
    this.ensure(v === null ? 1 : v.length * 6 + 3);
    if (!first) this.buf[this.len++] = 0x2c;
    if (v === null) return;
    this.buf[this.len++] = 0x22;
    this.len += this.buf.write(v.indexOf('"') < 0 ? v : v.replace(/"/g, '""'), this.len, 'utf8');
    this.buf[this.len++] = 0x22;
  }

  private ensure(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + bytes));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
}

/** One value quoted for COPY ... (format csv). */
export function csvField(v: string): string {
  return `"${v.replace(/"/g, '""')}"`;
}

/** One CSV line for COPY ... (format csv): NULL is an unquoted empty field, every value is quoted. */
export function csvLine(values: readonly (string | null)[]): string {
  return values.map((v) => (v === null ? '' : csvField(v))).join(',') + '\n';
}
