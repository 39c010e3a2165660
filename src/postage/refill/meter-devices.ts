import { createHash } from "node:crypto";
import type { Logger } from "pino";
import { isTermhostError, TermhostError } from "../../errors/errors.js";
import {
  type Completion,
  isRefillMessage,
  type RestoreDecision,
  type ValueAuthority,
  type ValueDevices,
  type ValueTarget,
} from "../../value/devices.js";
import type { RefillMessage, ValueKind, ValueTx } from "../../value/records.js";
import { refillTxnId } from "../batch/ids.js";
import type { Mutex } from "../batch/lock.js";
import type { MeterDriver } from "../meter/meter-driver.js";
import type { Registers } from "../protocol/index.js";
import type { RefillGate } from "./gate.js";
import { vendorAuthorization } from "./vendor-key.js";

/** What the meter family needs of the postage service. */
export interface MeterAccess {
  names(): string[];
  driver(meter: string): MeterDriver;
  /** The meter's value-moving lock: a refill never interleaves with a print. */
  lock(meter: string): Mutex;
  /** A simulated meter's vendor key, when the configuration holds one. */
  vendorKey(meter: string): string | undefined;
  /** The meter's registers moved: align the balance mirror and wake batches waiting for funds. */
  fundsMoved(meter: string, registers: Registers): Promise<void>;
  /** A refill's own checks (amount, limit): throws a typed refusal. */
  checkRefill?(meter: string, amount: number): void;
  /** The fleet's account, when the funds are held there (src/fleet); none: the vendor's alone. */
  gate?: RefillGate | undefined;
  log?: Logger | undefined;
}

/**
 * The authorization of a refill comes from the meter's vendor: obtained by the caller for this
 * meter, transaction id, amount and inspection date, or — for a simulated meter only — signed
 * with the vendor key in the configuration. Either way it was never registered at a host, so
 * there is no authorization to look up after a lost answer and a reversal is only logged: the
 * meter refuses a transaction id it has applied, so an unused authorization is simply void.
 */
function vendorAuthority(log: Logger | undefined): ValueAuthority {
  return {
    find: async () => undefined,
    // The vendor's code is checked by the meter alone: no exchange is left open anywhere.
    abandon: async () => undefined,
    reportReversal: async (authorizationId) => {
      log?.warn({ authorizationId }, "refill authorization void: it will never be applied");
    },
  };
}

/** A refill's authorization id: the first six bytes of a hash of the authorization, for the ledger. */
function authorizationIdOf(authorization: string): number {
  return createHash("sha256").update(authorization, "hex").digest().readUIntBE(0, 6);
}

/** The control total a refill was authorized at: the counter journaled before its authorization. */
function controlTotalBefore(tx: ValueTx): number {
  if (tx.counter === null)
    throw new TermhostError("INTERNAL", `refill ${tx.txId} has no control total journaled before it`);
  return tx.counter;
}

function refillMessage(tx: ValueTx): RefillMessage {
  if (!isRefillMessage(tx.message))
    throw new TermhostError("INTERNAL", `no stored refill message for ${tx.txId}`);
  return tx.message;
}

/**
 * Postage meters as targets of value increases: a refill goes through the same authorize →
 * journal → send → restore engine as a card load. The meter's serial is the target id, its control
 * total the counter the authorization binds; the REFILL's transaction id follows from the serial
 * and the request id, and the meter applies an id at most once.
 */
export class MeterDevices implements ValueDevices {
  readonly name = "meter";
  readonly kinds = ["refill"] as const;
  readonly authority: ValueAuthority;

  constructor(
    private readonly access: MeterAccess,
    /** How long a refill waits for a meter that is reconnecting. */
    private readonly readyWaitMs = 10_000,
  ) {
    this.authority = vendorAuthority(access.log);
  }

  check(_kind: ValueKind, req: { reader: string; amount: number }): void {
    this.access.checkRefill?.(req.reader, req.amount);
  }

  withTarget<T>(meter: string, fn: (target: ValueTarget) => Promise<T>): Promise<T> {
    if (!this.access.names().includes(meter))
      throw new TermhostError("POSTAGE_METER_UNKNOWN", `no meter named '${meter}'`, {
        context: { meter, meters: this.access.names() },
      });
    return this.access.lock(meter).run(async () => {
      const driver = this.access.driver(meter);
      await driver.whenReady(this.readyWaitMs);
      return fn(new MeterTarget(meter, driver, this.access));
    });
  }

  present(): string[] {
    return this.access.names().filter((n) => this.access.driver(n).ready);
  }

  mayHold(meter: string): boolean {
    return this.access.names().includes(meter);
  }

  onAppear(listener: (where: string | null) => void): void {
    for (const name of this.access.names()) this.access.driver(name).on("ready", () => listener(name));
  }
}

class MeterTarget implements ValueTarget {
  constructor(
    private readonly meter: string,
    private readonly driver: MeterDriver,
    private readonly access: MeterAccess,
  ) {}

  private serial(): string {
    const serial = this.driver.registers?.serial;
    if (serial === undefined)
      throw new TermhostError("POSTAGE_METER_UNAVAILABLE", `meter ${this.meter} was never read`);
    return serial;
  }

  async authorize(
    tx: ValueTx,
    terms: Readonly<Record<string, string>>,
    steps: Parameters<ValueTarget["authorize"]>[2],
  ): Promise<void> {
    const registers = await this.driver.readRegisters();
    const nextInspection = terms.nextInspection;
    if (nextInspection === undefined)
      throw new TermhostError("INTERNAL", "a refill needs its next inspection date");
    // The authorization binds the control total read here, which is also the transaction's counter:
    // the meter applies it only at that total, so it is single-use at the meter itself.
    const fields = {
      txnId: refillTxnId(registers.serial, tx.requestId),
      amount: tx.amount,
      controlTotalBefore: registers.controlTotal,
      nextInspection,
    };
    await this.access.gate?.hold(fields.txnId, tx.amount);
    await steps.authorizing({
      targetId: registers.serial,
      counter: registers.controlTotal,
      balanceBefore: registers.descending,
    });
    const authorization =
      terms.authorization ?? vendorAuthorization(this.access.vendorKey(this.meter), registers.serial, fields);
    if (authorization === undefined)
      throw new TermhostError(
        "POSTAGE_REFILL_UNAUTHORIZED",
        `refill of meter ${this.meter} needs a vendor authorization`,
        {
          hint: "obtain it from the meter vendor for this transaction id, amount and next inspection date",
          context: { meter: this.meter, serial: registers.serial, ...fields },
        },
      );
    // The stored message has no field for the control total: it is the journaled counter.
    const { controlTotalBefore: _, ...message } = fields;
    await steps.authorized({
      authorizationId: authorizationIdOf(authorization),
      message: { ...message, authorization },
    });
  }

  async prepareDebit(): Promise<void> {
    throw new TermhostError("INTERNAL", "a meter takes no debits");
  }

  /** REFILL, then the registers prove it: the control total moved by at least the amount. */
  async send(tx: ValueTx): Promise<Completion> {
    if (!(await this.maySend(tx)))
      throw new TermhostError(
        "FLEET_RESERVATION_CLOSED",
        `the funds held for refill ${tx.txId} were given back before it was sent`,
        {
          hint: "the refill was never sent and will not be; ask for a new one",
          context: { txId: tx.txId, meter: this.meter },
        },
      );
    return this.sendNow(tx);
  }

  private async maySend(tx: ValueTx): Promise<boolean> {
    return this.access.gate === undefined || this.access.gate.maySend(refillMessage(tx).txnId);
  }

  private async sendNow(tx: ValueTx): Promise<Completion> {
    const m = refillMessage(tx);
    const before = controlTotalBefore(tx);
    const registers = await this.driver.refill({ ...m, controlTotalBefore: before });
    if (registers.serial !== tx.cardId || registers.controlTotal < before + m.amount)
      throw new TermhostError(
        "METER_PAYLOAD_INVALID",
        "the meter's registers after REFILL do not show the refill",
        {
          context: { serial: registers.serial, controlTotal: registers.controlTotal, before },
        },
      );
    await this.moved(registers);
    return { balanceAfter: registers.descending, proof: m.txnId };
  }

  async identify(): Promise<string> {
    return this.serial();
  }

  /**
   * Decided from the meter's own record, with the control total T the refill was authorized at:
   * - its last transaction is this refill, at T + amount: applied;
   * - the control total is still T: it never landed and can only land once — resent;
   * - the total moved on without it being the last transaction: the REFILL is sent again as a
   *   question. The meter looks the id up in its refill memory first (prints never push a refill
   *   out of it) and answers one it applied with its registers; one it never applied it refuses,
   *   since the total is no longer T (CONTROL_TOTAL_MISMATCH): stale, it can never land.
   */
  async inspect(tx: ValueTx): Promise<RestoreDecision> {
    const m = refillMessage(tx);
    if (tx.cardId !== this.serial()) return { kind: "other-card" };
    const before = controlTotalBefore(tx);
    const last = await this.driver.link.getLastTransaction();
    if (last.kind === "refill" && last.txnId === m.txnId && last.controlTotalAfter === before + m.amount)
      return this.applied(m, await this.driver.readRegisters());
    const registers = await this.driver.readRegisters();
    // Funds given back before anything was sent: no REFILL of this id ever left, none will.
    if (!(await this.maySend(tx)))
      return { kind: "stale", reason: "the funds held for it were given back before it was sent" };
    if (registers.controlTotal === before) return { kind: "resend" };
    try {
      // Not a resend that could credit: the meter takes it only at `before`, which it has left.
      return { kind: "applied", completion: await this.sendNow(tx) };
    } catch (e) {
      if (!isTermhostError(e, "METER_REFUSED") || e.context?.result !== "CONTROL_TOTAL_MISMATCH") throw e;
      return {
        kind: "stale",
        reason: `the meter's control total moved from ${before} to ${registers.controlTotal} without this refill`,
      };
    }
  }

  private async applied(m: RefillMessage, registers: Registers): Promise<RestoreDecision> {
    await this.moved(registers);
    return { kind: "applied", completion: { balanceAfter: registers.descending, proof: m.txnId } };
  }

  /** The mirror is a convenience here: the next reconciliation aligns it if this write fails. */
  private async moved(registers: Registers): Promise<void> {
    await this.access
      .fundsMoved(this.meter, registers)
      .catch((e: unknown) =>
        this.access.log?.warn({ meter: this.meter, err: e }, "balance mirror not updated after a refill"),
      );
  }
}
