/**
 * The live journal: appends with group commit, the live state, compaction, close. One instance
 * per file and per process (the lock sees to the rest); opened by openJournal in open.ts.
 */
import type { z } from "zod";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import { journalCommitProbe } from "../util/probes.js";
import { writeCompactedFile } from "./compaction.js";
import { MAX_BODY_BYTES } from "./frame.js";
import { type JournalFs, O_CREAT_TRUNC_RDWR, O_DSYNC, writeFully } from "./fs.js";
import type { JournalLock } from "./lock.js";
import { type EncodedRecord, encodeWrite, type RecordCodec, type SequencedRecord } from "./records.js";
import type {
  AppendResult,
  CompactionReport,
  CompactionStep,
  JournalEvent,
  JournalHooks,
  JournalRecord,
  RecordInput,
  RecordTypes,
  RecoveryReport,
  SnapshotCodec,
  SyncMode,
} from "./types.js";

/** Appends queued while one write is on its way go out together, up to this many bytes per write. */
const MAX_WRITE_BYTES = 4 * 1024 * 1024;

/** Errors of a write that the disk refused up front: nothing was flushed and failed. */
const NO_SPACE = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

interface Entry {
  readonly records: readonly EncodedRecord[];
  readonly resolve: (seqs: readonly number[]) => void;
  readonly reject: (e: TermhostError) => void;
}

/** What openJournal hands over to the live journal. */
export interface JournalInit<T extends RecordTypes, S, Snap> {
  readonly fs: JournalFs;
  readonly sync: SyncMode;
  readonly path: string;
  readonly dir: string;
  readonly fd: number;
  readonly size: number;
  readonly lastSeq: number;
  readonly state: S;
  readonly codec: RecordCodec<T>;
  readonly reduce: (state: S, record: JournalRecord<T>) => S;
  readonly snapshot: SnapshotCodec<S, Snap>;
  readonly lock: JournalLock;
  readonly recovery: RecoveryReport;
  readonly compactAtBytes: number;
  readonly hooks: JournalHooks;
  readonly onEvent: (event: JournalEvent) => void;
}

/**
 * The file size at which automatic compaction starts again, after one that left `size` bytes:
 * half as much again, so that a large state does not compact in a loop, and a restart replays at
 * most half a snapshot's worth of records after the snapshot (its reopen time stays near the
 * snapshot's own load time).
 */
export function nextCompactionAt(compactAtBytes: number, size: number): number {
  return Math.max(compactAtBytes, Math.ceil(size * 1.5));
}

export class Journal<T extends RecordTypes, S, Snap = unknown> {
  readonly #f: JournalFs;
  readonly #sync: SyncMode;
  readonly #path: string;
  readonly #dir: string;
  readonly #codec: RecordCodec<T>;
  readonly #reduce: (state: S, record: JournalRecord<T>) => S;
  readonly #snapshot: SnapshotCodec<S, Snap>;
  readonly #lock: JournalLock;
  readonly #recovery: RecoveryReport;
  readonly #hooks: JournalHooks;
  readonly #onEvent: (event: JournalEvent) => void;
  readonly #compactAtBytes: number;
  #fd: number;
  /** End of the committed data: where the next write goes. */
  #size: number;
  #lastSeq: number;
  #state: S;
  #queue: Entry[] = [];
  #running = false;
  #holdWrites = false;
  #idleWaiters: (() => void)[] = [];
  #failure: TermhostError | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  /** Records committed since the running compaction took its snapshot; null when none runs. */
  #compactionTail: SequencedRecord[] | null = null;
  #compacting: Promise<CompactionReport> | null = null;
  #nextCompactAt: number;

  constructor(init: JournalInit<T, S, Snap>) {
    this.#f = init.fs;
    this.#sync = init.sync;
    this.#path = init.path;
    this.#dir = init.dir;
    this.#fd = init.fd;
    this.#size = init.size;
    this.#lastSeq = init.lastSeq;
    this.#state = init.state;
    this.#codec = init.codec;
    this.#reduce = init.reduce;
    this.#snapshot = init.snapshot;
    this.#lock = init.lock;
    this.#recovery = init.recovery;
    this.#hooks = init.hooks;
    this.#onEvent = init.onEvent;
    this.#compactAtBytes = init.compactAtBytes;
    this.#nextCompactAt = nextCompactionAt(init.compactAtBytes, init.size);
  }

  /** Live state: every committed record applied, nothing else. Do not mutate it. */
  get state(): S {
    return this.#state;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get path(): string {
    return this.#path;
  }

  /** Bytes of committed data in the current file. */
  get size(): number {
    return this.#size;
  }

  get recovery(): RecoveryReport {
    return this.#recovery;
  }

  /** Set once a failure leaves the file in a state this process cannot vouch for; reopen to recover. */
  get failure(): TermhostError | null {
    return this.#failure;
  }

  /** Resolves once the record is on disk (O_DSYNC write, or write + fdatasync) and applied to the state. */
  append<K extends keyof T & string>(type: K, body: z.input<T[K]>): Promise<AppendResult> {
    return this.#submit([{ type, body } as RecordInput<T>], (seqs) => ({ seq: seqs[0] as number }));
  }

  /** Appends several records as one write: after a crash either all of them are there or none. */
  appendMany(records: readonly RecordInput<T>[]): Promise<readonly number[]> {
    return this.#submit(records, (seqs) => seqs);
  }

  #submit<R>(records: readonly RecordInput<T>[], result: (seqs: readonly number[]) => R): Promise<R> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    let encoded: EncodedRecord[];
    try {
      encoded = records.map((r) => this.#codec.encode(r.type, r.body));
    } catch (e) {
      return Promise.reject(e);
    }
    if (encoded.length === 0) return Promise.resolve(result([]));
    return new Promise((resolve, reject) => {
      this.#queue.push({ records: encoded, resolve: (seqs) => resolve(result(seqs)), reject });
      this.#kick();
    });
  }

  #refusal(): TermhostError | null {
    if (this.#closed) {
      return new TermhostError("JOURNAL_CLOSED", `journal ${this.#path} is closed`, {
        context: { path: this.#path },
      });
    }
    return this.#failure === null ? null : this.#failedError(this.#failure);
  }

  #failedError(failure: TermhostError): TermhostError {
    return new TermhostError(
      "JOURNAL_WRITE_FAILED",
      `journal ${this.#path} refuses appends after an earlier failure`,
      {
        hint: "reopen the journal (restart the daemon) once the disk is healthy; recovery re-reads what is on disk",
        context: { path: this.#path },
        cause: failure,
      },
    );
  }

  #kick(): void {
    if (!this.#running && !this.#holdWrites && this.#queue.length > 0) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#queue.length > 0 && !this.#holdWrites) {
        const batch = this.#takeBatch();
        await this.#commit(batch);
        // Under concurrency, the writers just answered append again within this turn of the
        // event loop; letting them in before the next write doubles the records per sync
        // (otherwise the writers settle into two halves that alternate). A lone writer skips it.
        if (batch.length > 1 || this.#queue.length > 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.#running = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  #takeBatch(): Entry[] {
    let bytes = 0;
    let n = 0;
    for (const e of this.#queue) {
      for (const r of e.records) bytes += r.bodyBytes + r.typeBytes.length;
      if (n > 0 && bytes > MAX_WRITE_BYTES) break;
      n++;
    }
    return this.#queue.splice(0, n);
  }

  async #commit(batch: readonly Entry[]): Promise<void> {
    if (this.#failure !== null) {
      const refused = this.#failedError(this.#failure);
      for (const e of batch) e.reject(refused);
      return;
    }
    const records: SequencedRecord[] = [];
    let seq = this.#lastSeq;
    for (const e of batch) for (const rec of e.records) records.push({ rec, seq: ++seq });
    const start = this.#size;
    let buf: Buffer;
    try {
      buf = encodeWrite(records, start);
    } catch (e) {
      // Nothing was written and the sequence has not moved: the journal stays usable, and each
      // appender hears why its records were refused.
      const err = isTermhostError(e)
        ? e
        : new TermhostError("INTERNAL", "a journal write could not be framed", {
            hint: "this is a bug in the journal's framing; nothing was written",
            cause: e,
          });
      for (const en of batch) en.reject(err);
      return;
    }
    let stage: "write" | "sync" = "write";
    const began = performance.now();
    try {
      await writeFully(this.#f, this.#fd, buf, buf.length, start);
      stage = "sync";
      if (this.#sync === "fdatasync") await this.#f.fdatasync(this.#fd);
    } catch (e) {
      // An O_DSYNC write that fails for any reason but lack of space may have failed in its
      // flush, which is as bad as a failed fdatasync.
      if (this.#sync === "dsync" && !NO_SPACE.has((e as NodeJS.ErrnoException).code ?? "")) stage = "sync";
      const err = await this.#writeFailed(e, stage, start, buf.length);
      for (const en of batch) en.reject(err);
      return;
    }
    this.#size = start + buf.length;
    this.#lastSeq = seq;
    if (journalCommitProbe.hasSubscribers) {
      journalCommitProbe.publish({ records: records.length, seconds: (performance.now() - began) / 1000 });
    }
    const tail = this.#compactionTail;
    if (tail !== null) for (const r of records) tail.push(r);
    let i = 0;
    for (const e of batch) {
      const seqs: number[] = [];
      for (let k = 0; k < e.records.length; k++) {
        const r = records[i++] as SequencedRecord;
        this.#apply(r);
        seqs.push(r.seq);
      }
      e.resolve(seqs);
    }
    this.#maybeCompact();
  }

  #apply(r: SequencedRecord): void {
    try {
      this.#state = this.#reduce(this.#state, {
        type: r.rec.type,
        seq: r.seq,
        body: r.rec.value,
      } as JournalRecord<T>);
    } catch (e) {
      // The record is durable, so replay will meet the same reducer error at the next open.
      this.#fail(
        new TermhostError(
          "JOURNAL_RECORD_INVALID",
          `reducer threw on committed record seq ${r.seq} (${r.rec.type})`,
          {
            cause: e,
            context: { seq: r.seq, type: r.rec.type },
          },
        ),
      );
    }
  }

  /**
   * Undoes a failed write: the file is cut back to the last committed byte. A failed write whose
   * undo is durable leaves the journal usable (ENOSPC may clear); a failed fdatasync does not,
   * because after one the kernel may have dropped the dirty pages and a later fdatasync can
   * report success for data that never reached the disk.
   */
  async #writeFailed(
    cause: unknown,
    stage: "write" | "sync",
    offset: number,
    bytes: number,
  ): Promise<TermhostError> {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? "unknown";
    const err = new TermhostError(
      "JOURNAL_WRITE_FAILED",
      `journal ${stage} failed (${code}); the append was not committed`,
      {
        hint:
          code === "ENOSPC"
            ? "the disk is full: free space on the journal's file system"
            : "check the disk and the kernel log",
        context: { path: this.#path, offset, bytes, stage, errno: code },
        cause,
      },
    );
    try {
      await this.#f.ftruncate(this.#fd, offset);
      await this.#f.fdatasync(this.#fd);
    } catch (undo) {
      this.#fail(
        new TermhostError(
          "JOURNAL_WRITE_FAILED",
          `journal could not undo a failed ${stage} at offset ${offset}`,
          {
            context: { path: this.#path, offset },
            cause: undo,
          },
        ),
      );
      return err;
    }
    if (stage === "sync") this.#fail(err);
    return err;
  }

  #fail(err: TermhostError): void {
    if (this.#failure !== null) return;
    this.#failure = err;
    this.#onEvent({ kind: "failed", error: err });
  }

  /** Stops new writes from starting and waits for the one in progress. */
  async #pauseWrites(): Promise<void> {
    this.#holdWrites = true;
    if (this.#running) await new Promise<void>((res) => this.#idleWaiters.push(res));
  }

  #resumeWrites(): void {
    this.#holdWrites = false;
    this.#kick();
  }

  #maybeCompact(): void {
    if (
      this.#closed ||
      this.#compactAtBytes <= 0 ||
      this.#size < this.#nextCompactAt ||
      this.#compacting !== null
    ) {
      return;
    }
    this.compact().catch((e: unknown) => {
      // Tried again once the file has doubled, as after a success: a state that cannot be
      // compacted now (too large, a full disk) is not serialized again at every commit.
      this.#nextCompactAt = Math.max(this.#compactAtBytes, this.#size * 2);
      this.#onEvent({ kind: "compaction-failed", error: e as TermhostError });
    });
  }

  /**
   * Rewrites the file as a snapshot of the live state plus the records committed meanwhile, and
   * swaps it in. Appends keep flowing while the snapshot is written; they pause only for the
   * final copy of the records that arrived meanwhile, the fsync, the rename and the directory fsync.
   */
  compact(): Promise<CompactionReport> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    if (this.#compacting !== null) return this.#compacting;
    const run = this.#compact().finally(() => {
      this.#compacting = null;
      this.#compactionTail = null;
    });
    this.#compacting = run;
    return run;
  }

  async #compact(): Promise<CompactionReport> {
    const started = performance.now();
    const bytesBefore = this.#size;
    const snapshotSeq = this.#lastSeq;
    let snapshotBody: Buffer;
    try {
      snapshotBody = Buffer.from(JSON.stringify(this.#snapshot.save(this.#state)), "utf8");
    } catch (e) {
      throw new TermhostError("JOURNAL_WRITE_FAILED", "compaction could not serialize the live state", {
        cause: e,
      });
    }
    // A frame past the reader's bound would read back as damage: keep the uncompacted file instead.
    if (snapshotBody.length > MAX_BODY_BYTES) {
      throw new TermhostError("JOURNAL_WRITE_FAILED", "the live state is too large for one snapshot", {
        hint: "lower the retention settings of this journal's state (docs/config.md)",
        context: { bytes: snapshotBody.length, limit: MAX_BODY_BYTES },
      });
    }
    this.#compactionTail = [];
    const step = async (s: CompactionStep): Promise<void> => {
      await this.#hooks.compaction?.(s);
    };
    let tailRecords = 0;
    const bytesAfter = await writeCompactedFile(this.#f, {
      path: this.#path,
      dir: this.#dir,
      openFlags: this.#sync === "dsync" ? O_CREAT_TRUNC_RDWR | O_DSYNC : O_CREAT_TRUNC_RDWR,
      snapshotBody,
      snapshotSeq,
      step,
      // Runs with writes paused: from here until the swap, nothing can commit to the old file.
      beforeSwap: async () => {
        await this.#pauseWrites();
        // A close requested meanwhile waits for this compaction; only a failure stops it.
        if (this.#failure !== null) throw this.#failedError(this.#failure);
        const tail = this.#compactionTail ?? [];
        tailRecords = tail.length;
        return tail;
      },
      swap: async (fd, size) => {
        const old = this.#fd;
        this.#fd = fd;
        this.#size = size;
        await this.#f.close(old).catch(() => undefined);
      },
      swapFailed: (e) => this.#fail(e),
      afterSwap: () => this.#resumeWrites(),
    });
    this.#nextCompactAt = nextCompactionAt(this.#compactAtBytes, bytesAfter);
    const report: CompactionReport = {
      snapshotSeq,
      tailRecords,
      bytesBefore,
      bytesAfter,
      durationMs: performance.now() - started,
    };
    this.#onEvent({ kind: "compacted", report });
    return report;
  }

  /** Waits for queued appends and any compaction, then closes the file and releases the lock. */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    this.#closing = (async () => {
      await this.#compacting?.catch(() => undefined);
      while (this.#running || this.#queue.length > 0) {
        this.#kick();
        if (this.#running) await new Promise<void>((res) => this.#idleWaiters.push(res));
      }
      await this.#f.close(this.#fd).catch(() => undefined);
      await this.#lock.release();
    })();
    return this.#closing;
  }
}
