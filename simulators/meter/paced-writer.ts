/**
 * Delivers bytes no faster than a real line at `baud` (10 bits per byte): a pty has no baud rate
 * of its own. A byte is handed to `sink` once its last bit would have arrived; the timer wakes as
 * often as it can and delivers every byte that is due, so the average rate holds even with
 * millisecond timer granularity.
 */
export class PacedWriter {
  private readonly queue: number[] = [];
  private lineFreeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly byteMs: number;

  constructor(
    baud: number,
    private readonly sink: (bytes: Buffer) => void,
  ) {
    this.byteMs = 10_000 / baud;
  }

  write(bytes: Uint8Array): void {
    if (this.queue.length === 0) this.lineFreeAt = Math.max(this.lineFreeAt, performance.now());
    for (const b of bytes) this.queue.push(b);
    if (this.timer === undefined) this.schedule();
  }

  /** Drops everything not yet on the line. */
  clear(): void {
    this.queue.length = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get pending(): number {
    return this.queue.length;
  }

  private schedule(): void {
    const wait = Math.max(0, this.lineFreeAt + this.byteMs - performance.now());
    this.timer = setTimeout(() => this.pump(), wait);
  }

  private pump(): void {
    this.timer = undefined;
    const due = Math.floor((performance.now() - this.lineFreeAt) / this.byteMs);
    const n = Math.min(Math.max(due, 1), this.queue.length);
    const chunk = Buffer.from(this.queue.splice(0, n));
    this.lineFreeAt += n * this.byteMs;
    this.sink(chunk);
    if (this.queue.length > 0) this.schedule();
  }
}
