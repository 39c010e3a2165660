import { EventEmitter } from "node:events";
import { statSync } from "node:fs";
import type { Logger } from "pino";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import { THREADPOOL_RESERVE, threadpoolSize } from "../util/threadpool.js";
import { GatedChannel } from "./card-channel.js";
import { NativeGate } from "./native-gate.js";
import { fromPcscError } from "./pcsc-errors.js";
import { type NativePcsc, type NativeReader, openNativePcsc, ReaderStateBit } from "./pcsclite-binding.js";

export type CardPresence = "absent" | "present" | "mute" | "unavailable";

export interface ReaderView {
  name: string;
  card: CardPresence;
  /** Hex, upper case; null when no card answers. */
  atr: string | null;
  inUse: boolean;
  /** ISO 8601 time of the last change of `card`. */
  since: string;
}

export type ServiceState = "connecting" | "up" | "down";

/**
 * "exclusive" keeps every other PC/SC client off the card for the whole `withCard` call; it is how
 * a multi-APDU exchange is made atomic, since the binding has no SCardBeginTransaction.
 */
export type CardAccess = "shared" | "exclusive";

/**
 * A connected card. `transmit` sends one APDU and resolves with the raw response. It rejects with
 * CARD_REMOVED when the card is pulled or reset mid-APDU, READER_UNAVAILABLE when the reader
 * vanishes, and PCSC_UNAVAILABLE when pcscd goes away; the channel is unusable after any of them.
 */
export interface CardChannel {
  readonly reader: string;
  readonly protocol: number;
  transmit(apdu: Buffer, maxResponseBytes?: number): Promise<Buffer>;
}

type Events = {
  "reader-added": [view: ReaderView];
  "reader-removed": [name: string];
  "card-inserted": [view: ReaderView];
  "card-removed": [view: ReaderView];
  "service-up": [];
  "service-down": [reason: string];
};

export interface ReaderManagerOptions {
  log: Logger;
  /** How often to check that pcscd is still the daemon the context was opened with. */
  probeMs?: number;
  /** A PC/SC call that takes longer than this fails instead of holding the reader forever. */
  connectTimeoutMs?: number;
  transmitTimeoutMs?: number;
  /** Back-off bounds for re-establishing the PC/SC context after pcscd goes away. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /**
   * PC/SC calls allowed on libuv's threadpool at once, over all readers (one per reader at most).
   * Default: the pool less its reserve (src/util/threadpool.ts); the daemon also leaves the
   * threads of its meters and scale.
   */
  maxNativeCalls?: number;
  open?: () => NativePcsc;
}

/**
 * Tracks readers and cards through PC/SC. pcscd can vanish at any time (restart, crash): the
 * manager then reports every reader gone, retries with a bounded back-off (never a busy loop), and
 * rebuilds its view from a fresh context when pcscd is back. Duplicate status events from the
 * binding are folded: listeners hear a change only when the card presence or ATR changed.
 */
export class ReaderManager extends EventEmitter<Events> {
  private native: NativePcsc | undefined;
  private readonly readers = new Map<string, { view: ReaderView; native: NativeReader }>();
  private readonly queues = new Map<string, Promise<void>>();
  private retryTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  /** pcscd's socket as it was when the context opened: a new pcscd makes a new socket file. */
  private serviceIdentity: string | undefined;
  private retryDelay: number;
  private stopped = false;
  private serviceState: ServiceState = "connecting";
  private lastError: string | undefined;
  private readonly gate: NativeGate;

  constructor(private readonly opts: ReaderManagerOptions) {
    super();
    this.retryDelay = opts.retryMinMs ?? 250;
    this.gate = new NativeGate(opts.maxNativeCalls ?? Math.max(1, threadpoolSize() - THREADPOOL_RESERVE));
  }

  /** PC/SC calls this manager lets onto the threadpool at once. */
  get nativeCallBudget(): number {
    return this.gate.budget;
  }

  /** PC/SC calls on the threadpool now, including those given up on that the binding still holds. */
  get nativeCallsInFlight(): number {
    return this.gate.inFlight;
  }

  start(): void {
    this.connect();
    // The client library can carry on against a restarted pcscd without reporting an error, on
    // handles the new daemon does not know; a changed socket file is the reliable sign.
    this.probeTimer = setInterval(() => this.probeService(), this.opts.probeMs ?? 1000);
    this.probeTimer.unref();
  }

  private probeService(): void {
    if (this.serviceState !== "up" || this.serviceIdentity === undefined) return;
    const now = socketIdentity();
    if (now !== this.serviceIdentity) this.fail(`pcscd was restarted (its socket ${pcscdSocket()} changed)`);
  }

  get state(): ServiceState {
    return this.serviceState;
  }

  get error(): string | undefined {
    return this.lastError;
  }

  list(): ReaderView[] {
    return [...this.readers.values()]
      .map((r) => ({ ...r.view }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Runs `fn` with the card in `reader` connected. Calls for one reader run one after another, never
   * interleaved, because the binding runs transmits on a thread pool and a card speaks to one
   * host command at a time. The card is left powered (not reset) afterwards.
   */
  async withCard<T>(
    reader: string,
    access: CardAccess,
    fn: (channel: CardChannel) => Promise<T>,
  ): Promise<T> {
    const previous = this.queues.get(reader) ?? Promise.resolve();
    let release = (): void => {};
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => turn);
    this.queues.set(reader, tail);
    await previous;
    try {
      const entry = this.readers.get(reader);
      if (entry === undefined) {
        throw new TermhostError("READER_UNAVAILABLE", `no reader named '${reader}'`, {
          hint:
            this.serviceState === "up"
              ? "see `termhost status` for the readers present"
              : "pcscd is not reachable",
          context: { reader, known: [...this.readers.keys()] },
        });
      }
      if (entry.view.card !== "present") {
        throw new TermhostError("CARD_ABSENT", `no card in '${reader}'`, {
          hint: "insert a card",
          context: { reader },
        });
      }
      const native = entry.native;
      const shareMode = access === "exclusive" ? native.SCARD_SHARE_EXCLUSIVE : native.SCARD_SHARE_SHARED;
      // A handle left connected by an earlier exchange (its disconnect lost when pcscd went away)
      // makes the binding skip SCardConnect and report no protocol: drop it and connect afresh.
      if (native.connected) await this.dropStaleHandle(native, reader);
      const p = await this.gated<number | undefined>(
        native,
        reader,
        "connect",
        this.opts.connectTimeoutMs ?? 10_000,
        () => new TermhostError("READER_UNAVAILABLE", `connecting to the card in '${reader}' took too long`),
        (done) => native.connect({ share_mode: shareMode }, done),
      );
      if (typeof p !== "number") {
        throw new TermhostError(
          "READER_UNAVAILABLE",
          `the card in '${reader}' could not be connected afresh`,
          {
            hint: "try again; re-insert the card if it keeps failing",
            context: { reader },
          },
        );
      }
      const channel = new GatedChannel(
        reader,
        p,
        native,
        this.gate,
        this.opts.transmitTimeoutMs ?? 15_000,
        () => this.noThread(native, reader, "an APDU"),
      );
      try {
        return await fn(channel);
      } finally {
        channel.close();
        // A reader still holding a call given up on keeps the handle: the next exchange drops it.
        if (native.connected && !this.gate.isBusy(native)) {
          await this.disconnect(native, reader).catch(() => {});
        }
      }
    } finally {
      release();
      if (this.queues.get(reader) === tail) this.queues.delete(reader);
    }
  }

  private async dropStaleHandle(native: NativeReader, reader: string): Promise<void> {
    this.opts.log.warn({ reader }, "dropping a card handle left connected by an earlier exchange");
    await this.disconnect(native, reader, this.opts.connectTimeoutMs ?? 10_000).catch((e: unknown) => {
      // Still busy with a call that never came back: connecting now would only queue behind it.
      if (isTermhostError(e, "READER_UNAVAILABLE") && this.gate.isBusy(native)) throw e;
    });
    // pcscd no longer knows the handle (it restarted, or the card went): the binding keeps calling
    // it connected after the failed SCardDisconnect. The next SCardConnect replaces the handle.
    if (native.connected) Reflect.set(native, "connected", false);
  }

  private disconnect(native: NativeReader, reader: string, waitMs = 2000): Promise<void> {
    return this.gated<void>(
      native,
      reader,
      "disconnect",
      waitMs,
      () => new TermhostError("READER_UNAVAILABLE", "disconnect took too long", { context: { reader } }),
      (done) => native.disconnect(native.SCARD_LEAVE_CARD, (err) => done(err, undefined)),
    );
  }

  /**
   * One blocking binding call through the gate, given up on after `ms`, the wait for admission
   * included. Its place on the pool is freed when the binding calls back, however late.
   */
  private gated<T>(
    native: NativeReader,
    reader: string,
    what: "connect" | "disconnect",
    ms: number,
    late: () => TermhostError,
    start: (done: (err: Error | null, value: T) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let started = false;
      const finish = (err: unknown, value?: T): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === null) resolve(value as T);
        else reject(isTermhostError(err) ? err : fromPcscError(err as Error, reader, what));
      };
      const timer = setTimeout(() => {
        withdraw();
        finish(started ? late() : this.noThread(native, reader, `a ${what}`));
      }, ms);
      const withdraw = this.gate.enter(native, () => {
        started = true;
        try {
          start((err, value) => {
            this.gate.leave(native);
            finish(err, value);
          });
        } catch (e) {
          this.gate.leave(native);
          finish(e);
        }
      });
    });
  }

  private noThread(native: NativeReader, reader: string, what: string): TermhostError {
    const own = this.gate.isBusy(native);
    return new TermhostError(
      "READER_UNAVAILABLE",
      own
        ? `the reader '${reader}' still holds an earlier call it never returned; ${what} was not sent`
        : `${what} for '${reader}' found no PC/SC thread free: ${this.gate.budget} are held by readers that do not answer`,
      {
        hint: own
          ? "re-insert the card or replug the reader; it takes nothing new until that call ends"
          : "see `termhost status` for readers that hang and replug them",
        context: { reader, inFlight: this.gate.inFlight, budget: this.gate.budget },
      },
    );
  }

  /**
   * Stops watching. The binding's close() can block on SCardCancel while pcscd is unresponsive, so
   * at shutdown the context is dropped without it; the process exit releases it.
   */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.probeTimer);
    for (const r of this.readers.values()) detach(r.native);
    if (this.native !== undefined) detach(this.native);
    this.readers.clear();
  }

  private connect(): void {
    if (this.stopped) return;
    let native: NativePcsc;
    try {
      const identity = socketIdentity();
      this.serviceIdentity = identity === "missing" ? undefined : identity;
      native = (this.opts.open ?? openNativePcsc)();
    } catch (e) {
      this.fail(`cannot reach pcscd: ${(e as Error).message}`);
      return;
    }
    this.native = native;
    native.on("error", (err) => {
      if (this.native === native) this.fail(`PC/SC service lost: ${err.message}`);
    });
    native.on("reader", (reader) => {
      if (this.native === native) this.addReader(reader);
    });
    // The binding reports success only through its first reader list; an empty system has none.
    setImmediate(() => {
      if (this.native === native && this.serviceState !== "up") this.markUp();
    });
  }

  private markUp(): void {
    this.serviceState = "up";
    this.lastError = undefined;
    this.retryDelay = this.opts.retryMinMs ?? 250;
    this.opts.log.info("PC/SC service up");
    this.emit("service-up");
  }

  private fail(reason: string): void {
    const old = this.native;
    this.native = undefined;
    for (const [name, r] of this.readers) {
      detach(r.native);
      this.readers.delete(name);
      this.emit("reader-removed", name);
    }
    if (old !== undefined) {
      detach(old);
      try {
        old.close();
      } catch {
        // the context is already dead
      }
    }
    if (this.serviceState !== "down" || this.lastError !== reason) {
      this.opts.log.warn({ reason, retryMs: this.retryDelay }, "PC/SC unavailable; will retry");
    }
    this.serviceState = "down";
    this.lastError = reason;
    this.emit("service-down", reason);
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => this.connect(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, this.opts.retryMaxMs ?? 5000);
  }

  private addReader(reader: NativeReader): void {
    if (this.serviceState !== "up") this.markUp();
    const view: ReaderView = {
      name: reader.name,
      card: "absent",
      atr: null,
      inUse: false,
      since: new Date().toISOString(),
    };
    this.readers.set(reader.name, { view, native: reader });
    this.opts.log.info({ reader: reader.name }, "reader added");
    this.emit("reader-added", { ...view });
    reader.on("status", (status) => this.onStatus(reader.name, status.state, status.atr));
    reader.on("error", (err) => {
      this.opts.log.warn({ reader: reader.name, err: err.message }, "reader status error");
    });
    reader.on("end", () => {
      const r = this.readers.get(reader.name);
      if (r === undefined || r.native !== reader) return;
      this.readers.delete(reader.name);
      this.opts.log.info({ reader: reader.name }, "reader removed");
      this.emit("reader-removed", reader.name);
    });
  }

  private onStatus(name: string, state: number, atr: Buffer | undefined): void {
    const r = this.readers.get(name);
    if (r === undefined) return;
    const card = presenceOf(state);
    const atrHex =
      card === "present" && atr !== undefined && atr.length > 0 ? atr.toString("hex").toUpperCase() : null;
    const inUse = (state & ReaderStateBit.INUSE) !== 0;
    const prev = r.view;
    if (prev.card === card && prev.atr === atrHex) {
      prev.inUse = inUse;
      return;
    }
    r.view = { name, card, atr: atrHex, inUse, since: new Date().toISOString() };
    this.opts.log.info({ reader: name, card, atr: atrHex }, "card state changed");
    if (card === "present") this.emit("card-inserted", { ...r.view });
    else if (prev.card === "present") this.emit("card-removed", { ...r.view });
  }
}

function pcscdSocket(): string {
  return process.env.PCSCLITE_CSOCK_NAME ?? "/run/pcscd/pcscd.comm";
}

function socketIdentity(): string {
  try {
    const st = statSync(pcscdSocket());
    return `${st.dev}:${st.ino}:${st.ctimeMs}`;
  } catch {
    return "missing";
  }
}

/**
 * Stops listening to a binding object that may still fire: its threads report late errors, and an
 * EventEmitter 'error' with no listener would end the process.
 */
function detach(emitter: NativePcsc | NativeReader): void {
  emitter.removeAllListeners();
  (emitter as { on(e: "error", fn: (err: Error) => void): unknown }).on("error", () => {});
}

function presenceOf(state: number): CardPresence {
  if (state & ReaderStateBit.MUTE) return "mute";
  if (state & ReaderStateBit.PRESENT) return "present";
  if (state & ReaderStateBit.UNAVAILABLE) return "unavailable";
  return "absent";
}
