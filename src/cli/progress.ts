/**
 * Progress of a long operation on stderr: one line redrawn in place on a terminal, plain lines
 * otherwise (logs and pipes get a readable history instead of carriage returns).
 */
export class Progress {
  private readonly tty: boolean;
  private last = "";

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {
    this.tty = stream.isTTY === true;
  }

  update(done: number, total: number, detail: string): void {
    if (this.tty) {
      const filled = total === 0 ? this.width : Math.round((done / total) * this.width);
      const bar = `${"#".repeat(filled)}${"-".repeat(this.width - filled)}`;
      this.stream.write(`\r[${bar}] ${done}/${total} ${detail}\x1b[K`);
      return;
    }
    const text = `printed ${done}/${total} ${detail}`;
    if (text === this.last) return;
    this.last = text;
    this.stream.write(`${text}\n`);
  }

  end(): void {
    if (this.tty) this.stream.write("\n");
  }
}
