import { performance } from "node:perf_hooks";

/**
 * When to try something again that failed (a restore on a device, a reversal the authorizer could
 * not take): the pause doubles with each failure up to `maxMs`. Monotonic time, so a wall clock
 * set forward or back neither floods nor starves the retries.
 */
export class Backoff<K> {
  private readonly entries = new Map<K, { failures: number; notBefore: number }>();

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  due(key: K): boolean {
    const e = this.entries.get(key);
    return e === undefined || this.clock() >= e.notBefore;
  }

  failed(key: K): void {
    const failures = (this.entries.get(key)?.failures ?? 0) + 1;
    const pause = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(failures - 1, 20));
    this.entries.set(key, { failures, notBefore: this.clock() + pause });
  }

  reset(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
