import type { z } from "zod";
import type { TermhostError } from "../errors/errors.js";
import type { JournalFs } from "./fs.js";
import type { DamageReason } from "./recovery.js";

/** Record type name → schema of its body. Bodies are stored as JSON, so schemas must round-trip through JSON. */
export type RecordTypes = Record<string, z.ZodType>;

/** A committed record as the reducer sees it, live and on replay alike. */
export type JournalRecord<T extends RecordTypes> = {
  [K in keyof T & string]: { readonly type: K; readonly seq: number; readonly body: z.output<T[K]> };
}[keyof T & string];

/** A record to append; for appendMany. */
export type RecordInput<T extends RecordTypes> = {
  [K in keyof T & string]: { readonly type: K; readonly body: z.input<T[K]> };
}[keyof T & string];

/** How live state becomes a snapshot record and back; `save` must return plain JSON data. */
export interface SnapshotCodec<S, Snap> {
  readonly schema: z.ZodType<Snap>;
  save(state: S): Snap;
  load(snapshot: Snap): S;
}

export type SyncMode = "dsync" | "fdatasync";

export type CompactionStep = "snapshot-written" | "tail-written" | "file-synced" | "renamed" | "dir-synced";

export interface JournalHooks {
  /** Called after each compaction step; tests crash or copy the disk here. */
  compaction?(step: CompactionStep): void | Promise<void>;
}

export type JournalEvent =
  | { readonly kind: "compacted"; readonly report: CompactionReport }
  | { readonly kind: "compaction-failed"; readonly error: TermhostError }
  | { readonly kind: "failed"; readonly error: TermhostError };

export interface JournalOptions<T extends RecordTypes, S, Snap> {
  readonly path: string;
  readonly types: T;
  readonly initialState: () => S;
  /** Applies one committed record. May mutate `state` and return it; must not throw for a valid body. */
  readonly reduce: (state: S, record: JournalRecord<T>) => S;
  readonly snapshot: SnapshotCodec<S, Snap>;
  /** Create the file when it does not exist (default true). */
  readonly create?: boolean;
  /** Compact automatically once the file reaches this size; 0 turns it off (default 16 MiB). */
  readonly compactAtBytes?: number;
  /**
   * How a write is made durable: "dsync" opens the file with O_DSYNC so that one pwrite is the
   * write and the sync (one thread-pool round trip instead of two); "fdatasync" writes, then
   * calls fdatasync. Default "dsync".
   */
  readonly sync?: SyncMode;
  readonly fs?: JournalFs;
  readonly hooks?: JournalHooks;
  readonly onEvent?: (event: JournalEvent) => void;
}

/** What recovery dropped at the end of the file. */
export interface DroppedTail {
  /** File offset where the dropped bytes started (the file now ends here). */
  readonly offset: number;
  readonly bytes: number;
  readonly reason: DamageReason;
  /** Offset of the first frame that failed to read (≥ offset). */
  readonly damageAt: number;
  /** Intact frames of the torn write that were dropped with it (a write applies whole or not at all). */
  readonly intactFramesDropped: number;
  /** Copy of the dropped bytes, for a post-mortem; null when there were none. */
  readonly savedTo: string | null;
}

export interface RecoveryReport {
  readonly path: string;
  readonly created: boolean;
  readonly fileBytes: number;
  readonly snapshotSeq: number | null;
  readonly recordsReplayed: number;
  readonly lastSeq: number;
  readonly droppedTail: DroppedTail | null;
  /** Leftovers of an interrupted compaction or creation, removed: they never held anything the journal lacks. */
  readonly removedLeftovers: readonly string[];
  readonly durationMs: number;
}

export interface CompactionReport {
  readonly snapshotSeq: number;
  readonly tailRecords: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly durationMs: number;
}

export interface AppendResult {
  readonly seq: number;
}
