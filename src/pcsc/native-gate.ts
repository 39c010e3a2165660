/**
 * Admission to the binding's blocking calls. pcsclite runs SCardConnect, SCardTransmit and
 * SCardDisconnect on libuv's threadpool, and a call holds its thread until pcscd answers, however
 * long the card or reader takes; our own timeout only stops waiting for it. The gate keeps at most
 * one call per reader on the pool (a second would wait on the reader's lock inside the binding,
 * holding a thread of its own) and at most `budget` in all, so readers that hang can never take
 * the threads the journal needs. A call's place is given back when the binding calls back, not
 * when we give up on it. Waiting callers wait here, in JavaScript, on no thread.
 */
export class NativeGate {
  private running = 0;
  private readonly busy = new Set<object>();
  private readonly waiting: Array<{ key: object; go: () => void }> = [];

  constructor(readonly budget: number) {
    if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`native call budget ${budget}`);
  }

  /** Calls on the threadpool now, answered or not. */
  get inFlight(): number {
    return this.running;
  }

  /** `key` (a reader) has a call on the pool that has not returned. */
  isBusy(key: object): boolean {
    return this.busy.has(key);
  }

  /**
   * Runs `go` once `key` has no call on the pool and the budget has room: at once (synchronously)
   * when it can, later otherwise, first come first served. The returned function withdraws a call
   * still waiting; it does nothing once `go` has run. Each `go` must be matched by one `leave`.
   */
  enter(key: object, go: () => void): () => void {
    // After every leave the waiters left are blocked by their own reader or by the budget, so a
    // call that is free to go overtakes none that could have gone.
    if (this.tryEnter(key)) {
      go();
      return () => {};
    }
    const w = { key, go };
    this.waiting.push(w);
    return () => {
      const i = this.waiting.indexOf(w);
      if (i >= 0) this.waiting.splice(i, 1);
    };
  }

  /**
   * Takes `key`'s place at once if `enter` would run it synchronously; false leaves nothing
   * queued. Saves the hot path a closure when the reader is free, as it almost always is.
   */
  tryEnter(key: object): boolean {
    if (!this.free(key)) return false;
    this.take(key);
    return true;
  }

  /** The binding called back for `key`'s call: its thread is free again. */
  leave(key: object): void {
    if (!this.busy.delete(key)) return;
    this.running--;
    if (this.waiting.length === 0) return;
    for (let i = 0; i < this.waiting.length && this.running < this.budget; ) {
      const w = this.waiting[i] as { key: object; go: () => void };
      if (this.busy.has(w.key)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.take(w.key);
      w.go();
    }
  }

  private free(key: object): boolean {
    return this.running < this.budget && !this.busy.has(key);
  }

  private take(key: object): void {
    this.busy.add(key);
    this.running++;
  }
}
