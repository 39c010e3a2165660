/**
 * Request ids between a request's first check and its `value.requested` record. A request id is
 * claimed before anything else runs, so two requests with one id arriving at once make one
 * transaction: the second waits for the first, then finds it in the ledger. Loads claimed count
 * against the day's total before their record exists.
 */
export class RequestClaims {
  private readonly claims = new Map<string, { promise: Promise<unknown>; load: number; key: string }>();

  /** The request with this id still starting, if any. */
  pending(requestId: string): Promise<unknown> | undefined {
    return this.claims.get(requestId)?.promise;
  }

  /** Claims `requestId` for the request `start` begins; `start` releases it once journaled or refused. */
  claim<T>(requestId: string, load: number, key: string, start: () => Promise<T>): Promise<T> {
    const entry = { promise: Promise.resolve() as Promise<unknown>, load, key };
    // Set before `start` runs: a refusal before its first await releases it again at once.
    this.claims.set(requestId, entry);
    const started = start();
    entry.promise = started;
    return started;
  }

  release(requestId: string): void {
    this.claims.delete(requestId);
  }

  /** Minor units of the loads claimed under `key` (a day and currency), but `except`'s. */
  inFlight(key: string, except: string): number {
    let sum = 0;
    for (const [id, e] of this.claims) if (id !== except && e.key === key) sum += e.load;
    return sum;
  }
}
