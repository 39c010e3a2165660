import type { Logger } from "pino";
import { SerialPort } from "serialport";
import {
  type Command,
  commandName,
  type DropReason,
  encodeFrame,
  FrameReceiver,
  FrameType,
  isCommand,
  nakReasonFor,
  type RawFrame,
  type Registers,
  responseType,
} from "../../src/postage/protocol/index.js";
import { MeterCore, PowerLoss } from "./meter-core.js";
import { PacedWriter } from "./paced-writer.js";
import type { MeterState } from "./state-file.js";

export interface MeterSimulatorOptions {
  /** The device end of a pty pair (or any serial port). */
  port: string;
  /** JSON state file (see state-file.ts); it must exist. */
  stateFile: string;
  /** Output is paced to this rate, 10 bits per byte. */
  baudRate: number;
  interByteTimeoutMs?: number;
  /** The meter's calendar, for lockout; defaults to the system clock. */
  now?: () => Date;
  log?: Logger;
}

/** A request as the simulator received it, for tests to assert on. */
export interface ReceivedRequest {
  seq: number;
  command: string;
  /** Same sequence number and bytes as the previous request: answered from the cache. */
  duplicate: boolean;
}

/**
 * Overrides the meter's answer to a request: return a response payload (result byte first),
 * "ignore" to stay silent, or undefined to fall through to the next behaviour and finally the meter.
 */
export type MeterBehaviour = (request: {
  seq: number;
  command: Command;
  payload: Buffer;
}) => Buffer | "ignore" | undefined;

interface CacheEntry {
  seq: number;
  command: number;
  payload: Buffer;
  response: Buffer | undefined;
}

export async function startMeterSimulator(options: MeterSimulatorOptions): Promise<MeterSimulator> {
  const sim = new MeterSimulator(options);
  await sim.open();
  return sim;
}

/**
 * The postage meter at the far end of the serial line, with the same codecs as the host. Faults are
 * set by methods; cable faults act on bytes as they cross the line, in either direction.
 */
export class MeterSimulator {
  readonly core: MeterCore;
  readonly received: ReceivedRequest[] = [];
  readonly frameDrops: DropReason[] = [];
  /** Test-provided behaviours, tried first to last before the meter itself. */
  readonly behaviours: MeterBehaviour[] = [];

  private readonly port: SerialPort;
  private readonly receiver: FrameReceiver;
  private readonly writer: PacedWriter;
  private cache: CacheEntry | undefined;
  private lastResponse: Buffer | undefined;
  private powered = true;
  /** Bumped on every power-off, so work scheduled before it is abandoned. */
  private epoch = 0;
  private cut = false;
  private bytesUntilCut: number | undefined;
  private corruptIn = 0;
  private corruptOut = 0;
  private responseDelayMs = 0;

  constructor(options: MeterSimulatorOptions) {
    this.core = new MeterCore(options.stateFile, options.now ?? (() => new Date()));
    this.port = new SerialPort({ path: options.port, baudRate: options.baudRate, autoOpen: false });
    this.receiver = new FrameReceiver({
      interByteTimeoutMs: options.interByteTimeoutMs ?? 100,
      now: () => performance.now(),
    });
    this.writer = new PacedWriter(options.baudRate, (bytes) => this.toWire(bytes));
    this.port.on("data", (chunk: Buffer) => this.fromWire(chunk));
    this.port.on("error", (e) => options.log?.warn({ err: e }, "meter port error"));
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => this.port.open((e) => (e ? reject(e) : resolve())));
  }

  close(): Promise<void> {
    this.writer.clear();
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }

  registers(): Registers {
    return this.core.registers();
  }

  state(): MeterState {
    return this.core.snapshot;
  }

  // --- faults -------------------------------------------------------------------------------

  /** Cuts the cable after `n` more bytes cross it (either direction): later bytes are lost both ways. */
  cutCableAt(n: number): void {
    if (n <= 0) this.cutNow();
    else this.bytesUntilCut = n;
  }

  restoreCable(): void {
    this.cut = false;
    this.bytesUntilCut = undefined;
    this.receiver.reset();
  }

  get cableCut(): boolean {
    return this.cut;
  }

  /** Flips every bit of the next `n` bytes in one direction. */
  corruptNext(n: number, direction: "fromMeter" | "toMeter" = "fromMeter"): void {
    if (direction === "fromMeter") this.corruptOut = n;
    else this.corruptIn = n;
  }

  /** Delay between the ACK of a request and its response. */
  setResponseDelay(ms: number): void {
    this.responseDelayMs = ms;
  }

  /** The next refill loses power once its pending credit is on disk. */
  tearNextRefill(): void {
    this.core.tearNextRefill = true;
  }

  /** Loses everything in RAM (duplicate cache, partial frames, pending output); the file stays. */
  powerOff(): void {
    this.powered = false;
    this.epoch++;
    this.cache = undefined;
    this.lastResponse = undefined;
    this.receiver.reset();
    this.writer.clear();
  }

  /** Power-up: reloads the state file and finishes an interrupted refill. */
  powerOn(): void {
    this.core.powerUp();
    this.powered = true;
  }

  powerCycle(): void {
    this.powerOff();
    this.powerOn();
  }

  get isPowered(): boolean {
    return this.powered;
  }

  // --- the line -----------------------------------------------------------------------------

  private fromWire(chunk: Buffer): void {
    let bytes = this.throughCable(chunk);
    if (bytes.length === 0 || !this.powered) return;
    if (this.corruptIn > 0) [bytes, this.corruptIn] = corrupt(bytes, this.corruptIn);
    for (const ev of this.receiver.push(bytes)) {
      if (ev.kind === "frame") this.onFrame(ev.frame);
      else {
        this.frameDrops.push(ev.reason);
        const reason = nakReasonFor(ev.reason);
        if (reason !== undefined)
          this.send(encodeFrame({ seq: 0, type: FrameType.NAK, payload: Buffer.of(reason) }));
      }
    }
  }

  private toWire(bytes: Buffer): void {
    let out = this.throughCable(bytes);
    if (out.length === 0) return;
    if (this.corruptOut > 0) [out, this.corruptOut] = corrupt(out, this.corruptOut);
    this.port.write(out);
  }

  private throughCable(bytes: Buffer): Buffer {
    if (this.cut) return bytes.subarray(0, 0);
    if (this.bytesUntilCut === undefined) return bytes;
    const pass = Math.min(this.bytesUntilCut, bytes.length);
    this.bytesUntilCut -= pass;
    if (this.bytesUntilCut === 0) this.cutNow();
    return bytes.subarray(0, pass);
  }

  private cutNow(): void {
    this.cut = true;
    this.bytesUntilCut = undefined;
    this.writer.clear();
  }

  private send(frame: Buffer): void {
    this.writer.write(frame);
  }

  private onFrame(frame: RawFrame): void {
    if (frame.type === FrameType.ACK) return;
    if (frame.type === FrameType.NAK) {
      // The host could not read what we sent: the response is the only thing worth resending.
      if (this.lastResponse !== undefined) this.send(this.lastResponse);
      return;
    }
    if (!isCommand(frame.type)) return;
    const command = frame.type;
    this.send(encodeFrame({ seq: frame.seq, type: FrameType.ACK, payload: Buffer.alloc(0) }));
    const c = this.cache;
    const duplicate =
      c !== undefined && c.seq === frame.seq && c.command === command && c.payload.equals(frame.payload);
    this.received.push({ seq: frame.seq, command: commandName(command), duplicate });
    if (duplicate) {
      if (c.response !== undefined) this.respond(c.response);
      return;
    }
    const entry: CacheEntry = { seq: frame.seq, command, payload: frame.payload, response: undefined };
    this.cache = entry;
    const epoch = this.epoch;
    const run = (): void => {
      if (epoch !== this.epoch) return;
      const payload = this.answer(frame.seq, command, frame.payload);
      if (payload === undefined) return;
      entry.response = encodeFrame({ seq: frame.seq, type: responseType(command), payload });
      this.respond(entry.response);
    };
    if (this.responseDelayMs > 0) setTimeout(run, this.responseDelayMs);
    else run();
  }

  private answer(seq: number, command: Command, payload: Buffer): Buffer | undefined {
    for (const b of this.behaviours) {
      const r = b({ seq, command, payload });
      if (r === "ignore") return undefined;
      if (r !== undefined) return r;
    }
    try {
      return this.core.handle(command, payload);
    } catch (e) {
      if (!(e instanceof PowerLoss)) throw e;
      this.powerOff();
      return undefined;
    }
  }

  private respond(frame: Buffer): void {
    this.lastResponse = frame;
    this.send(frame);
  }
}

function corrupt(bytes: Buffer, budget: number): [Buffer, number] {
  const out = Buffer.from(bytes);
  const n = Math.min(budget, out.length);
  for (let i = 0; i < n; i++) out[i] = (out[i] as number) ^ 0xff;
  return [out, budget - n];
}
