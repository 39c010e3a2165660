import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { TermhostError } from "../../errors/errors.js";
import type {
  Indicium,
  LastTransaction,
  MeterStatus,
  PrintRequest,
  RefillRequest,
  Registers,
} from "../protocol/index.js";
import { MeterLink, type MeterLinkOptions } from "../transport/meter-link.js";
import type { MeterTransport } from "../transport/transport.js";

/**
 * Meter answers that mean it did not print (or refill) the request now. The meter looks a transaction
 * id up in its memory first, so for a resend they also mean it does not remember the id.
 */
export const METER_REFUSALS: ReadonlySet<string> = new Set([
  "METER_LOCKED",
  "METER_INSUFFICIENT_FUNDS",
  "METER_REFUSED",
]);

/** What a driver learns at each (re)connection, before anything else is sent. */
export interface ConnectView {
  registers: Registers;
  last: LastTransaction;
  status: MeterStatus;
}

export interface MeterDriverOptions {
  name: string;
  transport: MeterTransport;
  link: MeterLinkOptions;
  /**
   * Runs at every (re)connection with the meter's registers and last transaction, before the driver
   * is ready; the ledger reconciles its view here. A failure leaves the driver not ready until the
   * next connection.
   */
  reconcile: (view: ConnectView) => Promise<void>;
  log?: Logger;
}

/**
 * One postage meter: the MeterLink over its port, plus the rule that nothing value-moving is sent
 * after a (re)connection until the ledger has reconciled with the meter's registers. Emits "ready"
 * after each reconciliation and "down" when the line is lost.
 */
export class MeterDriver extends EventEmitter<{ ready: [Registers]; down: [TermhostError] }> {
  readonly link: MeterLink;
  private readyFlag = false;
  private lastRegisters: Registers | undefined;
  private lastStatus: MeterStatus | undefined;
  private reconciling: Promise<void> = Promise.resolve();

  constructor(private readonly o: MeterDriverOptions) {
    super();
    this.setMaxListeners(0);
    this.link = new MeterLink(o.transport, o.link);
    this.link.on("up", () => {
      this.reconciling = this.onUp();
    });
    this.link.on("down", (e) => {
      this.readyFlag = false;
      this.emit("down", e);
    });
  }

  get name(): string {
    return this.o.name;
  }

  get ready(): boolean {
    return this.readyFlag && this.link.isUp;
  }

  /** Registers as last read or returned by the meter; undefined before the first connection. */
  get registers(): Registers | undefined {
    return this.lastRegisters;
  }

  get status(): MeterStatus | undefined {
    return this.lastStatus;
  }

  start(): void {
    this.link.start();
  }

  async stop(): Promise<void> {
    this.readyFlag = false;
    await this.link.stop();
    await this.reconciling.catch(() => undefined);
  }

  /** Resolves once the meter is connected and reconciled; rejects after `timeoutMs`. */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("ready", onReady);
        reject(
          new TermhostError("POSTAGE_METER_UNAVAILABLE", `meter ${this.name} is not connected`, {
            context: { meter: this.name, waitedMs: timeoutMs },
          }),
        );
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.once("ready", onReady);
    });
  }

  async print(r: PrintRequest): Promise<Indicium> {
    this.requireReady("PRINT INDICIUM");
    const indicium = await this.link.print(r);
    this.followPrint(indicium);
    return indicium;
  }

  /**
   * Keeps the register copy current without a GET REGISTERS per piece: a fresh print moves the
   * registers by exactly its amount and its sequence is the new piece count. An answer that does
   * not line up (a replayed old print, drift) makes the driver read the registers again.
   */
  private followPrint(i: Indicium): void {
    const prev = this.lastRegisters;
    if (
      prev !== undefined &&
      i.sequence === prev.pieceCount + 1 &&
      i.descendingAfter === prev.descending - i.amount
    ) {
      this.lastRegisters = {
        ...prev,
        ascending: prev.ascending + i.amount,
        descending: i.descendingAfter,
        pieceCount: i.sequence,
        batchCount: prev.batchCount + 1,
        batchValue: prev.batchValue + i.amount,
      };
      return;
    }
    this.readRegisters().catch((e: unknown) =>
      this.o.log?.warn({ meter: this.name, err: e }, "register read failed"),
    );
  }

  async refill(r: RefillRequest): Promise<Registers> {
    this.requireReady("REFILL");
    const registers = await this.link.refill(r);
    this.lastRegisters = registers;
    return registers;
  }

  async readRegisters(): Promise<Registers> {
    const registers = await this.link.getRegisters();
    this.lastRegisters = registers;
    return registers;
  }

  private requireReady(command: string): void {
    if (!this.ready)
      throw new TermhostError("METER_DISCONNECTED", `${command}: meter ${this.name} is not reconciled`, {
        context: { command, meter: this.name, acknowledged: false },
      });
  }

  private async onUp(): Promise<void> {
    this.readyFlag = false;
    try {
      const registers = await this.link.getRegisters();
      const last = await this.link.getLastTransaction();
      const status = await this.link.getStatus();
      this.lastRegisters = registers;
      this.lastStatus = status;
      await this.o.reconcile({ registers, last, status });
      if (!this.link.isUp) return;
      this.readyFlag = true;
      this.o.log?.info({ meter: this.name, serial: registers.serial }, "meter reconciled");
      this.emit("ready", this.lastRegisters ?? registers);
    } catch (e) {
      // The link goes down by itself on a failed exchange and reconnects; the next "up" retries.
      this.o.log?.warn({ err: e, meter: this.name }, "meter reconciliation failed");
    }
  }
}
