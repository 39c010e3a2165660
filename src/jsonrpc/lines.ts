/**
 * Splits a byte stream into newline-terminated lines with a hard bound, so that a peer can never
 * make us buffer more than `maxLineBytes` of an unfinished line.
 */
export type LineEvent = { kind: "line"; text: string } | { kind: "overflow"; bytes: number };

export class LineSplitter {
  private parts: Buffer[] = [];
  private pending = 0;
  private discarding = false;

  constructor(private readonly maxLineBytes: number) {}

  push(chunk: Buffer): LineEvent[] {
    const out: LineEvent[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!this.discarding) {
        if (this.pending + piece.length > this.maxLineBytes) {
          out.push({ kind: "overflow", bytes: this.pending + piece.length });
          this.parts = [];
          this.pending = 0;
          this.discarding = true;
        } else if (piece.length > 0) {
          this.parts.push(piece);
          this.pending += piece.length;
        }
      }
      if (nl === -1) return out;
      if (!this.discarding) {
        // The common case, a whole line within one chunk, is decoded where it lies, without a copy.
        const line =
          this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.pending);
        const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
        const text = line.toString("utf8", 0, end);
        if (!isBlank(text)) out.push({ kind: "line", text });
      }
      this.parts = [];
      this.pending = 0;
      this.discarding = false;
      start = nl + 1;
    }
  }
}

/** Whitespace only (what trim() would empty): decided by the first character in almost every line. */
function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) continue;
    if (c < 0x80) return false;
    return text.trim().length === 0;
  }
  return true;
}
