import { randomInt } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { TermhostError } from "../../errors/errors.js";
import {
  begin,
  type CommandSpec,
  Commands,
  type ExchangeEffect,
  type ExchangeEvent,
  type ExchangeState,
  type FailureReason,
  FrameReceiver,
  FrameType,
  type Indicium,
  type LastTransaction,
  MAX_WIRE_FRAME,
  type MeterStatus,
  NakCodec,
  nakReasonFor,
  okBody,
  type PrintRequest,
  RESPONSE_BIT,
  type ReceiverEvent,
  type RefillRequest,
  type Registers,
  step,
  wireTimeMs,
} from "../protocol/index.js";
import type { MeterTransport } from "./transport.js";

export interface MeterLinkOptions {
  baudRate: number;
  /** Retransmissions per exchange after the first send. */
  maxRetries?: number;
  /** Wait for an ACK beyond the wire time of the request and the ACK. */
  ackMarginMs?: number;
  /** Wait for a response after the ACK, beyond the wire time of the longest frame. */
  responseMarginMs?: number;
  interByteTimeoutMs?: number;
  /** An idle link sends PING this often; a failed PING takes the link down. */
  heartbeatMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  log?: Logger;
}

const DEFAULTS = {
  maxRetries: 3,
  ackMarginMs: 100,
  responseMarginMs: 1000,
  interByteTimeoutMs: 50,
  heartbeatMs: 1000,
  backoffInitialMs: 50,
  backoffMaxMs: 5000,
};

type Phase = "idle" | "connecting" | "up" | "down" | "stopped";

interface InFlight {
  state: ExchangeState;
  timer: NodeJS.Timeout | undefined;
  settle: (result: Buffer | TermhostError) => void;
  name: string;
}

/**
 * The host end of one meter line: runs the exchange state machine over a MeterTransport, one
 * exchange at a time through a serialized queue. It is `up` once a PING with a fresh random nonce
 * was answered (which also resets the meter's duplicate cache). An idle link sends a heartbeat
 * PING; a failed exchange (timeouts, NAKs exhausted) or a lost transport takes it `down`, and it
 * reopens with exponential backoff and probes again. Emits "up" on every (re)connection, so a
 * driver can reconcile its view with the meter's registers, and "down" with the error.
 * While the link is not up, requests reject at once with METER_DISCONNECTED.
 */
export class MeterLink extends EventEmitter<{ up: []; down: [TermhostError] }> {
  private readonly o: typeof DEFAULTS & { baudRate: number; log: Logger | undefined };
  private phase: Phase = "idle";
  private queue: Promise<unknown> = Promise.resolve();
  private inFlight: InFlight | undefined;
  private receiver: FrameReceiver;
  private seq = randomInt(1, 256);
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private heartbeatNonce = randomInt(0, 2 ** 32);

  constructor(
    private readonly transport: MeterTransport,
    options: MeterLinkOptions,
  ) {
    super();
    this.o = { ...DEFAULTS, ...stripUndefined(options), baudRate: options.baudRate, log: options.log };
    this.backoffMs = this.o.backoffInitialMs;
    this.receiver = this.newReceiver();
  }

  get isUp(): boolean {
    return this.phase === "up";
  }

  /** Starts connecting; the link comes up (event "up") when the meter answers. */
  start(): void {
    if (this.phase !== "idle") return;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.phase = "stopped";
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    this.dispatch({ type: "disconnected" });
    await this.transport.close();
  }

  ping(nonce: number): Promise<{ nonce: number }> {
    return this.request(Commands.ping, { nonce });
  }
  getStatus(): Promise<MeterStatus> {
    return this.request(Commands.getStatus, {});
  }
  getRegisters(): Promise<Registers> {
    return this.request(Commands.getRegisters, {});
  }
  print(r: PrintRequest): Promise<Indicium> {
    return this.request(Commands.print, r);
  }
  refill(r: RefillRequest): Promise<Registers> {
    return this.request(Commands.refill, r);
  }
  getLastTransaction(): Promise<LastTransaction> {
    return this.request(Commands.getLastTransaction, {});
  }
  clearBatch(): Promise<Registers> {
    return this.request(Commands.clearBatch, {});
  }

  /**
   * Runs one command. Rejects with the meter's refusal (METER_LOCKED, METER_INSUFFICIENT_FUNDS,
   * METER_REFUSED, METER_REFILL_PENDING), METER_PAYLOAD_INVALID for an unreadable response, or a link failure
   * (METER_TIMEOUT, METER_NAK, METER_DISCONNECTED) whose context says whether the meter ACKed it.
   */
  request<Req, Res>(spec: CommandSpec<Req, Res>, req: Req, probe = false): Promise<Res> {
    const payload = spec.request.serialize(req);
    const run = async (): Promise<Res> => {
      if (this.phase !== "up" && !(probe && this.phase === "connecting"))
        throw new TermhostError("METER_DISCONNECTED", `${spec.name}: meter link is ${this.phase}`, {
          context: { command: spec.name, phase: this.phase },
        });
      const result = await this.exchange(spec, payload);
      return spec.response.parse(okBody(result, spec.name));
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private exchange<Req, Res>(spec: CommandSpec<Req, Res>, payload: Buffer): Promise<Buffer> {
    this.seq = this.seq >= 255 ? 1 : this.seq + 1;
    const requestWire = wireTimeMs(2 * payload.length + 12, this.o.baudRate);
    const [state, effects] = begin(this.seq, spec.code, payload, {
      maxRetries: this.o.maxRetries,
      ackTimeoutMs: this.o.ackMarginMs + requestWire,
      responseTimeoutMs: this.o.responseMarginMs + wireTimeMs(MAX_WIRE_FRAME, this.o.baudRate),
    });
    clearTimeout(this.heartbeatTimer);
    return new Promise<Buffer>((resolve, reject) => {
      this.inFlight = {
        state,
        timer: undefined,
        name: spec.name,
        settle: (r) => (r instanceof TermhostError ? reject(r) : resolve(r)),
      };
      this.perform(effects);
    }).finally(() => {
      this.inFlight = undefined;
      this.armHeartbeat();
    });
  }

  private dispatch(event: ExchangeEvent): void {
    const f = this.inFlight;
    if (f === undefined) return;
    const [state, effects] = step(f.state, event);
    f.state = state;
    this.perform(effects);
  }

  private perform(effects: ExchangeEffect[]): void {
    const f = this.inFlight;
    if (f === undefined) return;
    for (const e of effects) {
      switch (e.type) {
        case "send":
          this.transport.write(e.bytes).catch((err: unknown) => this.lost(asDisconnected(err)));
          break;
        case "armTimer":
          clearTimeout(f.timer);
          f.timer = setTimeout(() => this.dispatch({ type: "timeout", timer: e.timer }), e.ms);
          break;
        case "complete":
          clearTimeout(f.timer);
          f.settle(e.payload);
          break;
        case "fail": {
          clearTimeout(f.timer);
          const err = failureError(f.name, f.state, e.reason);
          f.settle(err);
          if (e.reason.kind !== "disconnected") queueMicrotask(() => this.lost(err));
          break;
        }
      }
    }
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.receiver.push(chunk)) this.onReceived(ev);
  }

  private onReceived(ev: ReceiverEvent): void {
    if (ev.kind === "drop") {
      this.o.log?.debug({ reason: ev.reason, bytes: ev.bytes }, "meter frame dropped");
      const nak = nakReasonFor(ev.reason);
      if (nak !== undefined) this.dispatch({ type: "badFrame", nak });
      return;
    }
    const { seq, type, payload } = ev.frame;
    if (type === FrameType.ACK) this.dispatch({ type: "ack", seq });
    else if (type === FrameType.NAK) {
      try {
        this.dispatch({ type: "nak", seq, reason: NakCodec.parse(payload).reason });
      } catch {
        this.dispatch({ type: "badFrame", nak: 0x04 });
      }
    } else if ((type & RESPONSE_BIT) !== 0)
      this.dispatch({ type: "response", seq, frameType: type, payload });
  }

  // --- connection supervision ---------------------------------------------------------------

  private async connect(): Promise<void> {
    if (this.phase === "stopped") return;
    this.phase = "connecting";
    try {
      this.receiver = this.newReceiver();
      if (!this.transport.isOpen)
        await this.transport.open({ data: (c) => this.onData(c), closed: (e) => e && this.lost(e) });
      const nonce = randomInt(0, 2 ** 32);
      const echo = await this.request(Commands.ping, { nonce }, true);
      if (echo.nonce !== nonce)
        throw new TermhostError("METER_PAYLOAD_INVALID", "PING echoed another nonce", { context: { nonce } });
      if (this.currentPhase() !== "connecting") return;
      this.phase = "up";
      this.backoffMs = this.o.backoffInitialMs;
      this.o.log?.info({ port: this.transport.description }, "meter link up");
      this.armHeartbeat();
      this.emit("up");
    } catch (e) {
      if (this.currentPhase() === "stopped") return;
      this.o.log?.debug({ err: e, retryMs: this.backoffMs }, "meter not answering");
      this.phase = "down";
      await this.transport.close();
      this.scheduleReconnect();
    }
  }

  private lost(error: TermhostError): void {
    if (this.phase !== "up") return;
    this.phase = "down";
    clearTimeout(this.heartbeatTimer);
    this.o.log?.warn({ code: error.code, port: this.transport.description }, "meter link down");
    this.dispatch({ type: "disconnected" });
    this.emit("down", error);
    void this.transport.close().then(() => this.scheduleReconnect());
  }

  private scheduleReconnect(): void {
    if (this.phase === "stopped") return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.backoffMaxMs);
  }

  private armHeartbeat(): void {
    clearTimeout(this.heartbeatTimer);
    if (this.phase !== "up") return;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatNonce = (this.heartbeatNonce + 1) >>> 0;
      this.ping(this.heartbeatNonce).catch(() => undefined);
    }, this.o.heartbeatMs);
  }

  /** Re-reads the phase after an await, where another path may have changed it. */
  private currentPhase(): Phase {
    return this.phase;
  }

  private newReceiver(): FrameReceiver {
    return new FrameReceiver({ interByteTimeoutMs: this.o.interByteTimeoutMs, now: () => performance.now() });
  }
}

function failureError(name: string, state: ExchangeState, reason: FailureReason): TermhostError {
  const acknowledged = state.phase === "failed" ? state.acknowledged : false;
  const context = { command: name, seq: state.seq, sends: state.sends, acknowledged, reason: reason.kind };
  switch (reason.kind) {
    case "disconnected":
      return new TermhostError("METER_DISCONNECTED", `${name}: the line to the meter was lost`, { context });
    case "nak":
      return new TermhostError("METER_NAK", `${name}: meter kept refusing the frame`, {
        context: { ...context, nakReason: reason.lastReason },
      });
    case "ackTimeout":
    case "responseTimeout":
      return new TermhostError(
        "METER_TIMEOUT",
        `${name}: no ${reason.kind === "ackTimeout" ? "ACK" : "response"}`,
        {
          context,
        },
      );
  }
}

function asDisconnected(e: unknown): TermhostError {
  return e instanceof TermhostError
    ? e
    : new TermhostError("METER_DISCONNECTED", "write to the meter failed", { cause: e });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
