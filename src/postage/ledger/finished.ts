import { ClosedStore } from "../../util/closed-store.js";
import { batchCodec } from "./batch-codec.js";
import type { BatchEntry } from "./batch-entry.js";

/**
 * One finished batch as snapshots keep it: what the request-id index and retention need, then its
 * encoding (src/postage/ledger/batch-codec.ts), so that a reopen rebuilds all of it without decoding.
 */
export type FinishedRow = [
  batchId: string,
  requestId: string,
  closedAt: string | null,
  pieces: number,
  encoded: string,
];

/**
 * The finished batches, oldest first, each kept as its encoding. Beside the store, in the same
 * closing order, what retention reads of each (request id, closedAt, piece count): forgetting the
 * oldest then never decodes one. The two orders stay one because ids only ever join at the newest
 * end (a batch closes once) and leave at the oldest.
 */
export class FinishedBatches {
  private readonly store = new ClosedStore<BatchEntry>(batchCodec);
  private requestIds: string[] = [];
  private closedAts: (string | null)[] = [];
  private pieces: number[] = [];
  /** The index in the three arrays of the oldest batch kept. */
  private head = 0;

  get size(): number {
    return this.store.size;
  }

  has(batchId: string): boolean {
    return this.store.has(batchId);
  }

  /** The batch decoded: a copy, validated (throws JOURNAL_RECORD_INVALID for one that does not decode). */
  get(batchId: string): BatchEntry | undefined {
    return this.store.get(batchId);
  }

  /** Adds a batch that just closed as the newest; one kept already takes the new value in its place. */
  add(b: BatchEntry): void {
    const encoded = batchCodec.encode(b);
    if (this.store.has(b.batchId)) this.store.addEncoded(b.batchId, encoded);
    else this.addRow([b.batchId, b.requestId, b.closedAt, b.pieces.length, encoded]);
  }

  addRow([batchId, requestId, closedAt, pieces, encoded]: FinishedRow): void {
    if (this.store.has(batchId)) return;
    this.store.addEncoded(batchId, encoded);
    this.requestIds.push(requestId);
    this.closedAts.push(closedAt);
    this.pieces.push(pieces);
  }

  /** closedAt of the oldest batch kept: undefined when there is none. */
  oldestClosedAt(): string | null | undefined {
    return this.head < this.closedAts.length ? this.closedAts[this.head] : undefined;
  }

  /** Forgets the oldest batch, in O(1) amortized and without decoding it. */
  dropOldest(): { batchId: string; requestId: string; pieces: number } | undefined {
    const batchId = this.store.oldest();
    if (batchId === undefined) return undefined;
    this.store.delete(batchId);
    const dropped = {
      batchId,
      requestId: this.requestIds[this.head] as string,
      pieces: this.pieces[this.head] as number,
    };
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.pieces.length) {
      this.requestIds = this.requestIds.slice(this.head);
      this.closedAts = this.closedAts.slice(this.head);
      this.pieces = this.pieces.slice(this.head);
      this.head = 0;
    }
    return dropped;
  }

  /** Ids, oldest first. */
  ids(): IterableIterator<string> {
    return this.store.ids();
  }

  /** Batches, oldest first, each decoded as it is reached. */
  values(): IterableIterator<BatchEntry> {
    return this.store.values();
  }

  /** Every batch as a snapshot row, oldest first. */
  rows(): FinishedRow[] {
    const rows: FinishedRow[] = [];
    let i = this.head;
    for (const id of this.store.ids()) {
      rows.push([
        id,
        this.requestIds[i] as string,
        this.closedAts[i] as string | null,
        this.pieces[i] as number,
        this.store.encoded(id) as string,
      ]);
      i++;
    }
    return rows;
  }
}
