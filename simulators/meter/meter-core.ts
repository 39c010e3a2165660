import { aesCmac, macEquals } from "../../src/crypto/index.js";
import { isTermhostError } from "../../src/errors/errors.js";
import {
  Command,
  Commands,
  type Indicium,
  indiciumMacInput,
  type LastTransaction,
  type MeterStatus,
  okPayload,
  type PrintRequest,
  type RefillRequest,
  type Registers,
  ResultCode,
  refillAuthorizationInput,
  refusalPayload,
} from "../../src/postage/protocol/index.js";
import {
  loadMeterState,
  type MeterState,
  RECENT_LIMIT,
  REFILL_LIMIT,
  type RefillRecord,
  saveMeterState,
  type TxnRecord,
} from "./state-file.js";

/** Thrown inside a refill when a test asked for the power to fail at that step. */
export class PowerLoss extends Error {
  constructor() {
    super("simulated power loss");
  }
}

/**
 * The meter's application: registers, indicia, refills, lockout. Every value change is written to
 * the state file before the response leaves, so a power cycle never loses an applied transaction.
 */
export class MeterCore {
  private state: MeterState;
  /** Set by a test: the next refill loses power after its pending record is durable. */
  tearNextRefill = false;
  /** Refills finished at power-up after an interruption. */
  recoveredRefills = 0;
  /** Indicia actually printed (not replayed) since this core was made. */
  printsExecuted = 0;

  constructor(
    private readonly path: string,
    private readonly now: () => Date,
  ) {
    this.state = loadMeterState(path);
    this.powerUp();
  }

  /** Reloads the file as a power-up does and finishes an interrupted refill. */
  powerUp(): void {
    this.state = loadMeterState(this.path);
    const p = this.state.pendingRefill;
    if (p === null) return;
    this.applyRefill(p);
    this.recoveredRefills++;
  }

  get snapshot(): MeterState {
    return structuredClone(this.state);
  }

  registers(): Registers {
    return { ...this.state.registers };
  }

  locked(): boolean {
    return this.today() > this.state.inspectionDue;
  }

  /** Answers one request payload with a response payload (result byte first). */
  handle(command: Command, payload: Buffer): Buffer {
    try {
      return this.dispatch(command, payload);
    } catch (e) {
      if (isTermhostError(e, "METER_PAYLOAD_INVALID")) return refusalPayload(ResultCode.BAD_REQUEST);
      throw e;
    }
  }

  private dispatch(command: Command, payload: Buffer): Buffer {
    switch (command) {
      case Command.PING:
        return okPayload(Commands.ping.response.serialize(Commands.ping.request.parse(payload)));
      case Command.GET_STATUS:
        Commands.getStatus.request.parse(payload);
        return okPayload(Commands.getStatus.response.serialize(this.status()));
      case Command.GET_REGISTERS:
        Commands.getRegisters.request.parse(payload);
        return okPayload(Commands.getRegisters.response.serialize(this.registers()));
      case Command.PRINT_INDICIUM:
        return this.print(Commands.print.request.parse(payload));
      case Command.REFILL:
        return this.refill(Commands.refill.request.parse(payload));
      case Command.GET_LAST_TRANSACTION:
        Commands.getLastTransaction.request.parse(payload);
        return okPayload(Commands.getLastTransaction.response.serialize(this.lastTransaction()));
      case Command.CLEAR_BATCH: {
        Commands.clearBatch.request.parse(payload);
        this.commit({ ...this.state, registers: { ...this.state.registers, batchCount: 0, batchValue: 0 } });
        return okPayload(Commands.clearBatch.response.serialize(this.registers()));
      }
    }
  }

  private status(): MeterStatus {
    return {
      locked: this.locked(),
      refillPending: this.state.pendingRefill !== null,
      inspectionDue: this.state.inspectionDue,
      meterDate: this.today(),
      serial: this.state.serial,
    };
  }

  private print(req: PrintRequest): Buffer {
    const seen = this.findTxn(req.txnId);
    if (seen !== undefined) {
      // The same transaction again: answer with what was printed, never print a second time.
      if (seen.kind !== "print" || !samePrint(seen.request, req))
        return refusalPayload(ResultCode.TXN_CONFLICT);
      return okPayload(Commands.print.response.serialize(seen.indicium));
    }
    if (this.locked()) return refusalPayload(ResultCode.LOCKED);
    const r = this.state.registers;
    if (r.descending < req.amount) return refusalPayload(ResultCode.INSUFFICIENT_FUNDS);
    const registers: Registers = {
      ...r,
      ascending: r.ascending + req.amount,
      descending: r.descending - req.amount,
      pieceCount: r.pieceCount + 1,
      batchCount: r.batchCount + 1,
      batchValue: r.batchValue + req.amount,
    };
    const body: Omit<Indicium, "mac"> = {
      serial: this.state.serial,
      txnId: req.txnId,
      sequence: registers.pieceCount,
      amount: req.amount,
      date: req.date,
      mailClass: req.mailClass,
      origin: req.origin,
      descendingAfter: registers.descending,
    };
    const mac = aesCmac(Buffer.from(this.state.macKey, "hex"), indiciumMacInput(body)).subarray(0, 8);
    const indicium: Indicium = { ...body, mac: mac.toString("hex") };
    this.commit({
      ...this.state,
      registers,
      recent: this.remember({ kind: "print", request: req, indicium }),
    });
    this.printsExecuted++;
    return okPayload(Commands.print.response.serialize(indicium));
  }

  /**
   * A REFILL is looked up by its transaction id first: one applied is answered with the registers
   * and never credited again. A new one must carry the vendor's authorization and the meter's current
   * control total, which the authorization binds: an authorization applied once is void forever.
   */
  private refill(req: RefillRequest): Buffer {
    const seen = this.findTxn(req.txnId);
    if (seen !== undefined) {
      if (
        seen.kind !== "refill" ||
        seen.amount !== req.amount ||
        (seen.controlTotalBefore !== undefined && seen.controlTotalBefore !== req.controlTotalBefore)
      )
        return refusalPayload(ResultCode.TXN_CONFLICT);
      return okPayload(Commands.refill.response.serialize(this.registers()));
    }
    if (this.state.pendingRefill !== null) return refusalPayload(ResultCode.REFILL_PENDING);
    const expected = aesCmac(
      Buffer.from(this.state.vendorKey, "hex"),
      refillAuthorizationInput(this.state.serial, req),
    );
    if (!macEquals(expected, Buffer.from(req.authorization, "hex")))
      return refusalPayload(ResultCode.BAD_AUTHORIZATION);
    if (req.controlTotalBefore !== this.state.registers.controlTotal)
      return refusalPayload(ResultCode.CONTROL_TOTAL_MISMATCH);
    const pending = {
      txnId: req.txnId,
      amount: req.amount,
      controlTotalBefore: req.controlTotalBefore,
      nextInspection: req.nextInspection,
    };
    // Two durable steps: the pending credit first, so a power loss between them is finished at
    // power-up instead of being lost or applied twice.
    this.commit({ ...this.state, pendingRefill: pending });
    if (this.tearNextRefill) {
      this.tearNextRefill = false;
      throw new PowerLoss();
    }
    this.applyRefill(pending);
    return okPayload(Commands.refill.response.serialize(this.registers()));
  }

  private applyRefill(p: NonNullable<MeterState["pendingRefill"]>): void {
    const r = this.state.registers;
    const registers = { ...r, descending: r.descending + p.amount, controlTotal: r.controlTotal + p.amount };
    const record: RefillRecord = { kind: "refill", ...p, controlTotalAfter: registers.controlTotal };
    this.commit({
      ...this.state,
      registers,
      inspectionDue: p.nextInspection,
      pendingRefill: null,
      recent: this.remember(record),
      refills: [...this.state.refills, record].slice(-REFILL_LIMIT),
    });
  }

  private lastTransaction(): LastTransaction {
    const last = this.state.recent.at(-1);
    if (last === undefined) return { kind: "none" };
    if (last.kind === "print") return { kind: "print", indicium: last.indicium };
    return {
      kind: "refill",
      txnId: last.txnId,
      amount: last.amount,
      controlTotalAfter: last.controlTotalAfter,
    };
  }

  private findTxn(txnId: string): TxnRecord | undefined {
    return (
      this.state.recent.find((t) => (t.kind === "print" ? t.request.txnId : t.txnId) === txnId) ??
      this.state.refills.find((t) => t.kind === "refill" && t.txnId === txnId)
    );
  }

  private remember(t: TxnRecord): TxnRecord[] {
    return [...this.state.recent, t].slice(-RECENT_LIMIT);
  }

  private commit(next: MeterState): void {
    const r = next.registers;
    if (r.ascending + r.descending !== r.controlTotal) throw new Error("register invariant broken");
    saveMeterState(this.path, next);
    this.state = next;
  }

  private today(): string {
    return this.now().toISOString().slice(0, 10);
  }
}

function samePrint(a: PrintRequest, b: PrintRequest): boolean {
  return a.amount === b.amount && a.date === b.date && a.mailClass === b.mailClass && a.origin === b.origin;
}
