import { type Journal, openJournal, type RecordInput, type SyncMode } from "../../journal/index.js";
import type { Registers } from "../protocol/index.js";
import { planReservation, type ReservationPlan } from "./funds.js";
import { type LedgerBody, LedgerRecords, type PieceSpec } from "./records.js";
import {
  type BatchEntry,
  emptyLedger,
  type LedgerSnapshot,
  type LedgerState,
  ledgerSnapshotCodec,
  reduceLedger,
  reservedOn,
} from "./state.js";

export interface LedgerOptions {
  path: string;
  compactAtBytes?: number;
  sync?: SyncMode;
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
    reduce: reduceLedger,
    snapshot: ledgerSnapshotCodec,
    ...(o.compactAtBytes === undefined ? {} : { compactAtBytes: o.compactAtBytes }),
    ...(o.sync === undefined ? {} : { sync: o.sync }),
  };
}

/**
 * The reservation ledger of every meter, on the journal. Each method returns once its record is
 * durable; callers act (send a PRINT, answer a client) only after that.
 */
export class PostageLedger {
  /** Reservations are decided one at a time, so two batches never both see the same unreserved funds. */
  private reserving: Promise<unknown> = Promise.resolve();

  private constructor(private readonly journal: PostageJournal) {}

  static async open(o: LedgerOptions): Promise<PostageLedger> {
    return new PostageLedger(await openJournal(ledgerJournalOptions(o)));
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
    return this.state.batches.get(batchId);
  }

  batchByRequest(requestId: string): BatchEntry | undefined {
    const id = this.state.batchByRequest.get(requestId);
    return id === undefined ? undefined : this.state.batches.get(id);
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
  }

  close(): Promise<void> {
    return this.journal.close();
  }
}
