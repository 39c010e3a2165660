import type { Logger } from "pino";
import { isTermhostError, TermhostError } from "../../errors/errors.js";
import {
  type Journal,
  type JournalFs,
  JournalSupervisor,
  openJournal,
  type RecordInput,
  type SyncMode,
} from "../../journal/index.js";
import type { Registers } from "../protocol/index.js";
import { planReservation, type ReservationPlan } from "./funds.js";
import { type LedgerBody, LedgerRecords, type PieceSpec } from "./records.js";
import {
  type BatchEntry,
  batchOf,
  batchOfRequest,
  emptyLedger,
  type LedgerRetention,
  type LedgerSnapshot,
  type LedgerState,
  ledgerReducer,
  ledgerSnapshotCodec,
  reservedOn,
} from "./state.js";

export interface LedgerOptions {
  path: string;
  compactAtBytes?: number;
  sync?: SyncMode;
  /** The file operations under the journal (tests inject a full disk here). */
  fs?: JournalFs;
  /** Pause between attempts at reopening a failed journal (ms, default 200). */
  reopenRetryMs?: number;
  /** A failed journal was reopened: its state is what the file holds. */
  onReopened?: () => void;
  /** A failed journal is being reopened, or could not be. */
  log?: Logger;
  /** How long and how many finished batches stay answerable (default 30 days, 20,000). */
  retention?: LedgerRetention;
}

export interface Funds {
  balance: number;
  reserved: number;
  unreserved: number;
}

type PostageJournal = Journal<LedgerRecords, LedgerState, LedgerSnapshot>;

export function ledgerJournalOptions(o: LedgerOptions) {
  return {
    path: o.path,
    types: LedgerRecords,
    initialState: emptyLedger,
    reduce: ledgerReducer(o.retention),
    snapshot: ledgerSnapshotCodec,
    ...(o.compactAtBytes === undefined ? {} : { compactAtBytes: o.compactAtBytes }),
    ...(o.sync === undefined ? {} : { sync: o.sync }),
    ...(o.fs === undefined ? {} : { fs: o.fs }),
  };
}

/**
 * The reservation ledger of every meter, on the journal. Each method returns once its record is
 * durable; callers act (send a PRINT, answer a client) only after that.
 */
export class PostageLedger {
  /** Reservations are decided one at a time, so two batches never both see the same unreserved funds. */
  private reserving: Promise<unknown> = Promise.resolve();

  private supervisor!: JournalSupervisor<PostageJournal>;
  private closed = false;
  private readonly closedListeners = new Set<(batchId: string) => void>();

  private constructor() {}

  static async open(o: LedgerOptions): Promise<PostageLedger> {
    const ledger = new PostageLedger();
    /**
     * A journal that failed a write it cannot vouch for (a failed flush) refuses appends until it
     * is reopened, recovering from the file so that nothing committed is lost, as soon as the disk
     * allows (src/journal/supervisor.ts, the same as the value journal's). Writes meanwhile are
     * refused, and `writeWhenPossible` tries them again.
     */
    ledger.supervisor = await JournalSupervisor.open<PostageJournal>({
      name: "postage journal",
      path: o.path,
      retryMs: o.reopenRetryMs ?? 200,
      log: o.log,
      open: (onEvent) => openJournal({ ...ledgerJournalOptions(o), onEvent }),
      onReopened: () => o.onReopened?.(),
    });
    return ledger;
  }

  private get journal(): PostageJournal {
    return this.supervisor.journal;
  }

  get state(): LedgerState {
    return this.journal.state;
  }

  get recovery() {
    return this.journal.recovery;
  }

  funds(meter: string): Funds | undefined {
    const m = this.state.meters.get(meter);
    if (m === undefined) return undefined;
    const reserved = reservedOn(this.state, meter);
    return { balance: m.balance, reserved, unreserved: m.balance - reserved };
  }

  batch(batchId: string): BatchEntry | undefined {
    return batchOf(this.state, batchId);
  }

  batchByRequest(requestId: string): BatchEntry | undefined {
    return batchOfRequest(this.state, requestId);
  }

  /** Records the registers read at a (re)connection when they differ from the mirror. */
  async synced(meter: string, r: Registers): Promise<void> {
    const m = this.state.meters.get(meter);
    if (
      m !== undefined &&
      m.serial === r.serial &&
      m.balance === r.descending &&
      m.ascending === r.ascending &&
      m.controlTotal === r.controlTotal &&
      m.pieceCount === r.pieceCount
    )
      return;
    await this.journal.append("meter.synced", {
      meter,
      serial: r.serial,
      ascending: r.ascending,
      descending: r.descending,
      controlTotal: r.controlTotal,
      pieceCount: r.pieceCount,
    });
  }

  /**
   * Checks the unreserved balance and, when the plan allows, journals the reservation: the check and
   * the append run under one lock, so the sum of reservations never passes the balance.
   */
  reserve(r: {
    batchId: string;
    requestId: string;
    meter: string;
    currency: string;
    pieces: PieceSpec[];
    onInsufficient: LedgerBody<"reservation.opened">["onInsufficient"];
  }): Promise<ReservationPlan> {
    const run = async (): Promise<ReservationPlan> => {
      const funds = this.funds(r.meter);
      const plan = planReservation(r.pieces, funds?.unreserved ?? 0, r.onInsufficient);
      if (plan.kind === "short") return plan;
      await this.journal.append("reservation.opened", {
        batchId: r.batchId,
        requestId: r.requestId,
        meter: r.meter,
        currency: r.currency,
        amount: plan.amount,
        pieces: plan.pieces,
        requestedPieces: r.pieces.length,
        onInsufficient: r.onInsufficient,
        openedAt: new Date().toISOString(),
      });
      return plan;
    };
    const p = this.reserving.then(run, run);
    this.reserving = p.catch(() => undefined);
    return p;
  }

  /** Journals records in one atomic write (e.g. a printed indicium and the next piece's intent). */
  async write(records: RecordInput<LedgerRecords>[]): Promise<void> {
    if (records.length === 1) {
      const r = records[0] as RecordInput<LedgerRecords>;
      await this.journal.append(r.type, r.body as never);
    } else if (records.length > 1) await this.journal.appendMany(records);
    for (const r of records)
      if (r.type === "reservation.closed") for (const l of this.closedListeners) l(r.body.batchId);
  }

  /** Hears every batch once its close is durable (the fleet's outbox sends it from here). */
  onBatchClosed(listener: (batchId: string) => void): () => void {
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  /**
   * Whether a write refused with `e` may go through later: the disk was full or the journal failed
   * and is being reopened, and the ledger is not closed.
   */
  refusedForNow(e: unknown): boolean {
    return (
      !this.closed && (isTermhostError(e, "JOURNAL_WRITE_FAILED") || isTermhostError(e, "JOURNAL_CLOSED"))
    );
  }

  /**
   * Journals records like `write`, and while the journal refuses them for now (a full disk, a
   * journal being reopened) tries them again, unchanged, until they commit. A refused write was
   * undone; one that reached the disk anyway (a failed journal whose undo failed too) is replayed
   * at the reopen, and applying these records a second time changes nothing. `refused` hears of
   * each refusal. Rejects for any other error, and once the ledger is closed.
   */
  async writeWhenPossible(
    records: RecordInput<LedgerRecords>[],
    refused?: (e: unknown) => void,
  ): Promise<void> {
    for (let waitMs = 25; ; waitMs = Math.min(waitMs * 2, 1000)) {
      try {
        await this.write(records);
        return;
      } catch (e) {
        const refusal = isTermhostError(e, "JOURNAL_WRITE_FAILED") || isTermhostError(e, "JOURNAL_CLOSED");
        // Closed while this attempt was in the journal: the same answer as a close before it.
        if (refusal && this.closed)
          throw new TermhostError(
            "JOURNAL_CLOSED",
            "the postage ledger closed before the write could commit",
            {
              cause: e,
            },
          );
        if (!this.refusedForNow(e)) throw e;
        refused?.(e);
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.supervisor.close();
  }
}
