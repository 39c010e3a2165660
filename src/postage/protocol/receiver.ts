import { TermhostError } from "../../errors/errors.js";
import { CRC_BYTES, DLE, ESCAPE_XOR, HEADER_BYTES, isKnownFrameType, MAX_PAYLOAD, STX } from "./constants.js";
import { crc16 } from "./crc16.js";
import type { RawFrame } from "./frame.js";

/**
 * Why bytes were thrown away. `noise`: bytes outside any frame; `length`: a length byte above
 * MAX_PAYLOAD; `escape`: DLE followed by a byte that is not an escaped STX or DLE; `crc`: checksum
 * mismatch; `type`: unknown frame type; `interrupted`: a new start marker inside a frame;
 * `timeout`: the inter-byte gap was exceeded inside a frame.
 */
export type DropReason = "noise" | "length" | "escape" | "crc" | "type" | "interrupted" | "timeout";

export type ReceiverEvent =
  | { kind: "frame"; frame: RawFrame }
  | { kind: "drop"; reason: DropReason; bytes: number; error: TermhostError };

export interface ReceiverOptions {
  /** Longest silence allowed between two bytes of one frame. */
  interByteTimeoutMs: number;
  /** Milliseconds, monotonic; injected so tests need no sleeping. */
  now: () => number;
}

/**
 * Streaming frame receiver over a raw byte stream. Since STX never occurs inside a frame, any STX
 * starts a new frame and every error resynchronises on the next STX.
 */
export class FrameReceiver {
  private inFrame = false;
  private escaped = false;
  private body: number[] = [];
  private rawCount = 0;
  private noise = 0;
  private lastByteAt = 0;

  constructor(private readonly options: ReceiverOptions) {}

  /** Feeds bytes that have just arrived; returns the frames and drops they complete, in order. */
  push(chunk: Uint8Array): ReceiverEvent[] {
    const events: ReceiverEvent[] = [];
    this.checkGap(events);
    for (const b of chunk) this.byte(b, events);
    this.flushNoise(events);
    this.lastByteAt = this.options.now();
    return events;
  }

  /** Drops a partial frame whose sender went silent; call from a timer when no bytes arrive. */
  poll(): ReceiverEvent[] {
    const events: ReceiverEvent[] = [];
    this.checkGap(events);
    return events;
  }

  /** Forgets any partial frame without reporting it (port reopened, power cycle). */
  reset(): void {
    this.inFrame = false;
    this.escaped = false;
    this.body = [];
    this.rawCount = 0;
    this.noise = 0;
  }

  get busy(): boolean {
    return this.inFrame;
  }

  private checkGap(events: ReceiverEvent[]): void {
    if (this.inFrame && this.options.now() - this.lastByteAt > this.options.interByteTimeoutMs)
      this.drop(events, "timeout");
  }

  private byte(b: number, events: ReceiverEvent[]): void {
    if (b === STX) {
      this.flushNoise(events);
      if (this.inFrame) this.drop(events, "interrupted");
      this.inFrame = true;
      this.escaped = false;
      this.body = [];
      this.rawCount = 1;
      return;
    }
    if (!this.inFrame) {
      this.noise++;
      return;
    }
    this.rawCount++;
    if (this.escaped) {
      this.escaped = false;
      const v = b ^ ESCAPE_XOR;
      if (v !== STX && v !== DLE) this.drop(events, "escape");
      else this.decoded(v, events);
      return;
    }
    if (b === DLE) {
      this.escaped = true;
      return;
    }
    this.decoded(b, events);
  }

  private decoded(v: number, events: ReceiverEvent[]): void {
    this.body.push(v);
    const len = this.body[0] as number;
    // Rejected on the length byte alone: never wait for bytes that cannot form a frame.
    if (this.body.length === 1 && len > MAX_PAYLOAD) {
      this.drop(events, "length");
      return;
    }
    if (this.body.length < HEADER_BYTES + len + CRC_BYTES) return;
    const body = Buffer.from(this.body);
    const crcAt = HEADER_BYTES + len;
    if (crc16(body, 0, crcAt) !== body.readUInt16BE(crcAt)) {
      this.drop(events, "crc");
      return;
    }
    const type = body[2] as number;
    if (!isKnownFrameType(type)) {
      this.drop(events, "type");
      return;
    }
    events.push({
      kind: "frame",
      frame: { seq: body[1] as number, type, payload: Buffer.from(body.subarray(HEADER_BYTES, crcAt)) },
    });
    this.reset();
  }

  private drop(events: ReceiverEvent[], reason: DropReason): void {
    const bytes = this.rawCount;
    this.reset();
    events.push({ kind: "drop", reason, bytes, error: frameError(reason, bytes) });
  }

  private flushNoise(events: ReceiverEvent[]): void {
    if (this.noise === 0) return;
    const bytes = this.noise;
    this.noise = 0;
    events.push({ kind: "drop", reason: "noise", bytes, error: frameError("noise", bytes) });
  }
}

function frameError(reason: DropReason, bytes: number): TermhostError {
  return new TermhostError("METER_FRAME_INVALID", `meter frame dropped (${reason}) after ${bytes} bytes`, {
    context: { reason, bytes },
  });
}
