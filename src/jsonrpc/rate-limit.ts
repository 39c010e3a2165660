/**
 * A token bucket: `ratePerSecond` tokens flow in continuously up to `burst`; each request takes one.
 * Time is passed in so that the bucket is a pure function of its inputs and testable without clocks.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token if there is one; `now` in milliseconds, monotonic. */
  take(now: number): boolean {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Remembers whether a connection is over its limit, so that a breach is logged once when it starts
 * and once when it ends (with how many requests were refused), not once per refused request.
 */
export class BreachLog {
  private refused = 0;

  constructor(
    private readonly onStart: () => void,
    private readonly onEnd: (refused: number) => void,
  ) {}

  get breaching(): boolean {
    return this.refused > 0;
  }

  refuse(): void {
    if (this.refused === 0) this.onStart();
    this.refused++;
  }

  allow(): void {
    if (this.refused === 0) return;
    const n = this.refused;
    this.refused = 0;
    this.onEnd(n);
  }
}
