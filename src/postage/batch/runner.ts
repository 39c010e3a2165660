import type { Logger } from "pino";
import { isTermhostError } from "../../errors/errors.js";
import type { RecordInput } from "../../journal/index.js";
import type { PostageLedger } from "../ledger/ledger.js";
import type { LedgerRecords } from "../ledger/records.js";
import type { BatchEntry } from "../ledger/state.js";

type LedgerInput = RecordInput<LedgerRecords>;

import { METER_REFUSALS, type MeterDriver } from "../meter/meter-driver.js";
import { newPrintTxnId, todayUtc } from "./ids.js";
import type { Mutex } from "./lock.js";
import {
  type BatchEffect,
  type BatchEvent,
  type BatchMachineState,
  batchStep,
  initialBatch,
} from "./machine.js";

export interface RunnerContext {
  ledger: PostageLedger;
  driver: MeterDriver;
  /** One value-moving exchange per meter at a time, with its outcome journaled before the next. */
  meterLock: Mutex;
  log: Logger | undefined;
  /** A batch's progress changed (a piece printed, suspended, closed). */
  progress(batchId: string): void;
  /** Funds were released: waiting batches may now fit. */
  released(meter: string): void;
  /** The service is stopping: stop waiting for the meter. */
  stopping: Promise<void>;
}

/**
 * Runs one batch's machine: performs its effects one after another and feeds their results back.
 * Events from outside (cancel, client gone) queue behind the effect in progress.
 */
export class BatchRunner {
  private state: BatchMachineState;
  private readonly events: BatchEvent[] = [];
  private running = false;
  /** Why the journal refuses this batch's next record (a full disk); null while it takes them. */
  private refusal: string | null = null;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((r) => {
    this.resolveDone = r;
  });

  constructor(
    readonly batchId: string,
    private readonly ctx: RunnerContext,
  ) {
    const batch = ctx.ledger.batch(batchId);
    this.state = initialBatch(batch?.pieces.length ?? 0, batch?.indicia.length ?? 0);
  }

  get phase(): BatchMachineState["phase"] {
    return this.state.phase;
  }

  get stopRequested(): boolean {
    return this.state.stop !== null;
  }

  /** Set while the batch waits for the journal to take its next record. */
  get waitingForJournal(): string | null {
    return this.refusal;
  }

  start(): void {
    this.feed({ type: "begin" });
  }

  feed(e: BatchEvent): void {
    this.events.push(e);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      for (let e = this.events.shift(); e !== undefined; e = this.events.shift()) {
        const [next, effects] = batchStep(this.state, e);
        this.state = next;
        for (const effect of effects) await this.perform(effect);
        if (next.phase === "closed") this.resolveDone();
      }
    } catch (e) {
      // The service stopped (the ledger closed) while a record waited for the journal, or the
      // journal refused it for good: nothing more is sent for this batch; the next start recovers it.
      this.ctx.log?.error({ batchId: this.batchId, err: e }, "batch stopped: journal write failed");
      this.events.length = 0;
    } finally {
      this.running = false;
    }
  }

  private async perform(effect: BatchEffect): Promise<void> {
    const { ledger } = this.ctx;
    const batch = ledger.batch(this.batchId);
    if (batch === undefined) return;
    switch (effect.kind) {
      case "intend": {
        // Usually journaled already, in one write with the previous piece's indicium.
        if (batch.pending?.pieceIndex !== effect.pieceIndex) {
          const intent = this.intentRecord(effect.pieceIndex);
          if (intent === undefined) return;
          await this.journal([intent]);
        }
        this.events.unshift({ type: "intentJournaled" });
        return;
      }
      case "print":
        this.events.unshift(await this.print(effect.pieceIndex));
        return;
      case "awaitLink":
        this.events.unshift(await this.awaitLink(effect));
        return;
      case "void": {
        const pending = batch.pending;
        if (pending === null) return;
        await this.journal([this.voidRecord(pending, effect.reason)]);
        return;
      }
      case "close": {
        const body = {
          batchId: this.batchId,
          outcome: effect.outcome,
          released: batch.remaining,
          ...(effect.reason === null ? {} : { reason: effect.reason }),
          closedAt: new Date().toISOString(),
        };
        // An intent journaled ahead for a piece that will not be sent is voided with the close.
        const pending = batch.pending;
        await this.journal(
          pending === null
            ? [{ type: "reservation.closed", body }]
            : [
                this.voidRecord(pending, effect.reason ?? effect.outcome),
                { type: "reservation.closed", body },
              ],
        );
        this.events.unshift({ type: "closed" });
        this.ctx.released(batch.meter);
        return;
      }
      case "progress":
        this.ctx.progress(this.batchId);
        return;
    }
  }

  /** Sends the journaled intent (again, after a lost line: same transaction id) and journals the indicium. */
  private async print(pieceIndex: number): Promise<BatchEvent> {
    const { ledger, driver, meterLock } = this.ctx;
    return meterLock.run(async () => {
      const batch = ledger.batch(this.batchId);
      const pending = batch?.pending;
      if (batch === undefined) return { type: "refused", reason: "batch vanished" };
      // The reconciliation after a reconnection may already have found it printed.
      if (pending === null || pending === undefined || pending.pieceIndex !== pieceIndex) {
        if (batch.indicia.some((i) => i.pieceIndex === pieceIndex)) return { type: "printed" };
        const unresolved = batch.unresolved.find((u) => u.pieceIndex === pieceIndex);
        return {
          type: "refused",
          reason:
            unresolved === undefined
              ? "intent voided"
              : `piece ${pieceIndex} unresolved: ${unresolved.reason}`,
        };
      }
      let indicium: Awaited<ReturnType<MeterDriver["print"]>>;
      try {
        indicium = await driver.print(pending.request);
      } catch (e) {
        if (isTermhostError(e) && METER_REFUSALS.has(e.code)) return { type: "refused", reason: e.code };
        this.ctx.log?.info(
          { batchId: this.batchId, pieceIndex, err: e },
          "print interrupted; batch suspended",
        );
        return { type: "linkLost" };
      }
      // The next piece's intent goes in the same write: one durable write per indicium.
      const nextIntent =
        this.state.stop === null && pieceIndex + 1 < this.state.total
          ? this.intentRecord(pieceIndex + 1)
          : undefined;
      // Printed: its indicium is journaled before the meter is used again, waiting for the disk if
      // it is full. Should the service stop meanwhile, the next start finds it as the meter's last
      // transaction.
      await this.journal([
        {
          type: "indicium.printed",
          body: {
            batchId: this.batchId,
            pieceIndex,
            txnId: indicium.txnId,
            amount: indicium.amount,
            sequence: indicium.sequence,
            descendingAfter: indicium.descendingAfter,
            date: indicium.date,
            mac: indicium.mac,
          },
        },
        ...(nextIntent === undefined ? [] : [nextIntent]),
      ]);
      return { type: "printed" };
    });
  }

  /**
   * Journals this batch's records. While the journal refuses them (ENOSPC) the batch waits and
   * tries the same records again: it shows as suspended, with the reason, until they commit.
   */
  private async journal(records: LedgerInput[]): Promise<void> {
    await this.ctx.ledger.writeWhenPossible(records, (e) => {
      if (this.refusal !== null) return;
      const code = isTermhostError(e) ? e.code : "JOURNAL_WRITE_FAILED";
      this.refusal = `${code}: ${e instanceof Error ? e.message : String(e)}`;
      this.ctx.log?.warn(
        { batchId: this.batchId, err: e },
        "journal refuses the batch's record; the batch waits for it",
      );
      this.ctx.progress(this.batchId);
    });
    if (this.refusal === null) return;
    this.refusal = null;
    this.ctx.log?.info({ batchId: this.batchId }, "journal takes the batch's records again");
    this.ctx.progress(this.batchId);
  }

  private async awaitLink(_: BatchEffect): Promise<BatchEvent> {
    const { driver, ledger } = this.ctx;
    if (!driver.ready) {
      const ready = new Promise<void>((resolve) => driver.once("ready", () => resolve()));
      await Promise.race([ready, this.ctx.stopping]);
    }
    if (!driver.ready) return { type: "clientGone" };
    const batch = ledger.batch(this.batchId);
    if (batch !== undefined && batch.pending === null && this.state.pending !== null) {
      const pieceIndex = this.state.pending;
      if (batch.indicia.some((i) => i.pieceIndex === pieceIndex)) return { type: "printed" };
    }
    return { type: "linkUp" };
  }

  private intentRecord(pieceIndex: number): LedgerInput | undefined {
    const piece = this.ctx.ledger.batch(this.batchId)?.pieces[pieceIndex];
    if (piece === undefined) return undefined;
    const request = {
      txnId: newPrintTxnId(),
      amount: piece.amount,
      date: todayUtc(),
      mailClass: piece.class,
      origin: piece.origin,
    };
    return { type: "print.intent", body: { batchId: this.batchId, pieceIndex, request } };
  }

  private voidRecord(pending: NonNullable<BatchEntry["pending"]>, reason: string): LedgerInput {
    return {
      type: "print.voided",
      body: { batchId: this.batchId, pieceIndex: pending.pieceIndex, txnId: pending.request.txnId, reason },
    };
  }
}
