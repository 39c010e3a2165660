/**
 * How a closed entry is kept: one compact string each, decoded when asked for. A closed value
 * transaction or finished batch is history, asked for by id now and then (a status, a request-id
 * replay, a technician's list), while a day's worth of them must fit the kiosk's memory: as a
 * string it takes a third to a quarter of the live object graph it came from.
 */
export interface ClosedCodec<T> {
  encode(entry: T): string;
  /** Throws a typed error for a string that is not one of its encodings. */
  decode(encoded: string, id: string): T;
}

/**
 * Closed entries by id, oldest first out. Dropping the oldest is O(1): a `Map`'s first key is
 * found by walking past every entry deleted before it, so the order is kept apart in a queue.
 */
export class ClosedStore<T> {
  private readonly entries = new Map<string, string>();
  /** Ids in closing order from `head` on; ids deleted out of order are skipped when reached. */
  private order: string[] = [];
  private head = 0;
  /** Ids deleted while still in `order` ahead of `head`: re-adding one must drop its old place. */
  private readonly stale = new Set<string>();

  constructor(private readonly codec: ClosedCodec<T>) {}

  get size(): number {
    return this.entries.size;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  get(id: string): T | undefined {
    const s = this.entries.get(id);
    return s === undefined ? undefined : this.codec.decode(s, id);
  }

  /** The encoded form, as snapshots keep it. */
  encoded(id: string): string | undefined {
    return this.entries.get(id);
  }

  /** Adds `entry` as the newest; an id already kept keeps its place and takes the new value. */
  add(id: string, entry: T): void {
    this.addEncoded(id, this.codec.encode(entry));
  }

  addEncoded(id: string, encoded: string): void {
    if (!this.entries.has(id)) {
      if (this.stale.delete(id)) {
        // Rare (an id closed, deleted and closed again): O(n) once, so that it is listed once.
        this.order = this.order.slice(this.head).filter((x) => x !== id);
        this.head = 0;
      }
      this.order.push(id);
    }
    this.entries.set(id, encoded);
  }

  delete(id: string): boolean {
    if (!this.entries.delete(id)) return false;
    this.stale.add(id);
    // The oldest deleted: step past it now, or a store emptied by deletes alone (never asked for
    // its oldest) would keep every id it ever held in `order` and `stale`.
    if (this.order[this.head] === id) this.skipStale();
    return true;
  }

  /** The oldest id kept, or undefined when empty. */
  oldest(): string | undefined {
    this.skipStale();
    return this.order[this.head];
  }

  /** Drops the oldest entry and returns it as kept: a caller that needs a field or two need not decode it. */
  dropOldest(): { id: string; encoded: string } | undefined {
    const id = this.oldest();
    if (id === undefined) return undefined;
    const encoded = this.entries.get(id) as string;
    this.entries.delete(id);
    this.head++;
    this.trim();
    return { id, encoded };
  }

  /** Ids, oldest first. */
  *ids(): IterableIterator<string> {
    for (let i = this.head; i < this.order.length; i++) {
      const id = this.order[i] as string;
      if (this.entries.has(id)) yield id;
    }
  }

  /** Entries, oldest first, each decoded as it is reached. */
  *values(): IterableIterator<T> {
    for (const id of this.ids()) yield this.get(id) as T;
  }

  private skipStale(): void {
    while (this.head < this.order.length) {
      const id = this.order[this.head] as string;
      if (this.entries.has(id)) break;
      this.stale.delete(id);
      this.head++;
    }
    this.trim();
  }

  private trim(): void {
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }
}
