import { TermhostError } from "../errors/errors.js";
import { apduProbe } from "../util/probes.js";
import type { NativeGate } from "./native-gate.js";
import { fromPcscError } from "./pcsc-errors.js";
import type { NativeReader } from "./pcsclite-binding.js";

/** An APDU handed to the gate and not yet settled. */
interface InFlight {
  /** The watchdog's tick count when it started. */
  tick: number;
  sent: boolean;
  settled: boolean;
  reject: (e: TermhostError) => void;
  withdraw: () => void;
}

/** The watchdog ticks this many times per timeout: an APDU is given up on after 1 to 1.25 timeouts. */
const TICKS = 4;

/**
 * A connected card's channel: one APDU at a time through the native gate, each given up on after
 * `timeoutMs` (up to a quarter more). The timeout is one watchdog per channel that ticks while
 * APDUs are in flight, rather than a timer or a clock read per APDU: an APDU only notes the tick it
 * started in. This is the hot path the APDU benchmark measures, and a clock read there costs a
 * measurable share of what the daemon adds to pcscd's own time.
 */
export class GatedChannel {
  private dead: TermhostError | undefined;
  /** An array, not a Set: a Set would give every APDU's record an identity hash; this holds one or two. */
  private readonly inFlight: InFlight[] = [];
  private watchdog: NodeJS.Timeout | undefined;
  private ticks = 0;

  constructor(
    readonly reader: string,
    readonly protocol: number,
    private readonly native: NativeReader,
    private readonly gate: NativeGate,
    private readonly timeoutMs: number,
    /** The error for an APDU that never got onto the pool in time. */
    private readonly noThread: () => TermhostError,
  ) {}

  readonly transmit = (apdu: Buffer, maxResponseBytes = 258): Promise<Buffer> =>
    new Promise<Buffer>((resolve, reject) => {
      if (this.dead !== undefined) {
        reject(this.dead);
        return;
      }
      const op: InFlight = { tick: this.ticks, sent: false, settled: false, reject, withdraw: noop };
      const answered = (err: Error | null, data: Buffer): void => {
        this.gate.leave(this.native);
        if (!this.settle(op)) return;
        if (err) rejectProbed(reject, fromPcscError(err, this.reader, "transmit"));
        // A card that vanishes mid-APDU can surface as a "successful" transmit with no status
        // word (seen with vpcd); no card ever answers that, so it counts as a pulled card.
        else if (data.length < 2) rejectProbed(reject, vanished(this.reader, data.length));
        else {
          if (apduProbe.hasSubscribers) {
            apduProbe.publish({ sw: data.subarray(-2).toString("hex").toUpperCase(), error: null });
          }
          resolve(data);
        }
      };
      this.inFlight.push(op);
      this.arm();
      if (this.gate.tryEnter(this.native)) this.send(op, apdu, maxResponseBytes, answered);
      else op.withdraw = this.gate.enter(this.native, () => this.send(op, apdu, maxResponseBytes, answered));
    });

  private send(op: InFlight, apdu: Buffer, maxResponseBytes: number, answered: Answered): void {
    // Admitted after the channel died (an earlier APDU timed out, or the exchange ended): the
    // card must not see a command its exchange has given up on.
    if (this.dead !== undefined) {
      this.gate.leave(this.native);
      if (this.settle(op)) op.reject(this.dead);
      return;
    }
    op.sent = true;
    try {
      this.native.transmit(apdu, maxResponseBytes, this.protocol, answered);
    } catch (e) {
      this.gate.leave(this.native);
      // The binding refuses synchronously (a handle it no longer holds): a typed reader error.
      if (this.settle(op)) op.reject(refusedBy(this.reader, e));
    }
  }

  /** Marks `op` settled: false if the watchdog or the binding already did. */
  private settle(op: InFlight): boolean {
    if (op.settled) return false;
    op.settled = true;
    this.forget(op);
    return true;
  }

  /**
   * Ends the channel with its exchange: nothing more is sent on it. An APDU still outstanding (a
   * caller that did not wait for one) is settled now rather than left without a timeout: one still
   * waiting for the gate is withdrawn, one the driver holds is given up on, its outcome unknown.
   */
  close(): void {
    if (this.watchdog !== undefined) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.dead ??= new TermhostError(
      "CARD_REMOVED",
      `the exchange with the card in '${this.reader}' has ended`,
      {
        hint: "an APDU was still outstanding when its exchange ended; re-insert the card so the transaction can be checked",
        context: { reader: this.reader },
      },
    );
    for (const op of [...this.inFlight]) {
      op.settled = true;
      op.withdraw();
      op.reject(this.dead);
    }
    this.inFlight.length = 0;
  }

  private arm(): void {
    this.watchdog ??= setTimeout(() => this.tick(), Math.max(1, Math.ceil(this.timeoutMs / TICKS)));
  }

  private tick(): void {
    this.watchdog = undefined;
    this.ticks++;
    // An APDU noted tick k; at tick k + m it has run more than (m - 1) quarters of the timeout.
    for (const op of [...this.inFlight]) if (this.ticks - op.tick > TICKS) this.expire(op);
    if (this.inFlight.length > 0) this.arm();
  }

  private forget(op: InFlight): void {
    const i = this.inFlight.indexOf(op);
    if (i >= 0) this.inFlight.splice(i, 1);
  }

  private expire(op: InFlight): void {
    op.settled = true;
    this.forget(op);
    op.withdraw();
    if (!op.sent) {
      // Never sent: the card saw nothing, but the exchange cannot go on without it.
      op.reject(this.noThread());
      return;
    }
    // The driver still holds the exchange: this channel is done, whatever comes back later.
    this.dead = new TermhostError("CARD_REMOVED", `the card in '${this.reader}' did not answer in time`, {
      hint: "re-insert the card so the transaction can be checked",
      context: { reader: this.reader },
    });
    op.reject(this.dead);
  }
}

const noop = (): void => {};
type Answered = (err: Error | null, data: Buffer) => void;

function rejectProbed(reject: (e: TermhostError) => void, e: TermhostError): void {
  if (apduProbe.hasSubscribers) apduProbe.publish({ sw: null, error: e.code });
  reject(e);
}

function refusedBy(reader: string, e: unknown): TermhostError {
  return new TermhostError("READER_UNAVAILABLE", `the reader '${reader}' refused the exchange`, {
    hint: "try again; re-insert the card if it keeps failing",
    context: { reader, reason: e instanceof Error ? e.message : String(e) },
  });
}

function vanished(reader: string, length: number): TermhostError {
  return new TermhostError(
    "CARD_REMOVED",
    `the card in '${reader}' answered ${length} bytes, without a status word`,
    {
      hint: "the card was probably pulled mid-command; re-insert it so the transaction can be checked",
      context: { reader, responseLength: length },
    },
  );
}
