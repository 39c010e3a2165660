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
        const text = Buffer.concat(this.parts, this.pending).toString("utf8").replace(/\r$/, "");
        if (text.trim().length > 0) out.push({ kind: "line", text });
      }
      this.parts = [];
      this.pending = 0;
      this.discarding = false;
      start = nl + 1;
    }
  }
}
