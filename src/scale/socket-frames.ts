import { z } from "zod";
import { TermhostError } from "../errors/errors.js";

/**
 * The framed protocol between termhostd and a scale that lives in another process (the simulator,
 * on machines without uhid). Every frame is `type (1 byte) · length (2 bytes, big-endian) ·
 * payload`. The scale speaks first with one HELLO; after it, INPUT frames carry the scale's input
 * reports exactly as a hidraw read would return them, and OUTPUT frames carry the host's output
 * reports. Closing the connection is the unplug.
 */
export const FrameType = { hello: 0x01, input: 0x02, output: 0x03 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const SOCKET_PROTOCOL_VERSION = 1;
const HEADER_BYTES = 3;
/** A full-speed HID interrupt report is at most 64 bytes. */
export const MAX_REPORT_BYTES = 64;
const MAX_HELLO_BYTES = 512;

const UsbId = z.string().regex(/^[0-9a-f]{4}$/, "expected four lower-case hex digits");
export const Hello = z.strictObject({
  protocol: z.literal(SOCKET_PROTOCOL_VERSION),
  vendorId: UsbId,
  productId: UsbId,
  product: z.string().max(126).optional(),
  serialNumber: z.string().max(126).optional(),
});
export type Hello = z.infer<typeof Hello>;

export type Frame = { type: "hello"; hello: Hello } | { type: "input" | "output"; report: Buffer };

function invalid(reason: string, message: string, context: Record<string, unknown> = {}): TermhostError {
  return new TermhostError("SCALE_FRAME_INVALID", message, { context: { reason, ...context } });
}

export function encodeFrame(type: FrameType, payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

export function helloFrame(hello: Hello): Buffer {
  return encodeFrame(FrameType.hello, Buffer.from(JSON.stringify(hello), "utf8"));
}

/**
 * Incremental decoder: feed it socket chunks, get whole frames. Any violation throws
 * SCALE_FRAME_INVALID (`context.reason`: type, length, hello, order) and the decoder is unusable
 * afterwards: the byte stream has lost its framing and the connection must be dropped.
 */
export class FrameDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  #helloSeen = false;
  #broken = false;

  /** `from`: which side's frames this decoder accepts ("scale" for the host, "host" for the scale). */
  constructor(private readonly from: "scale" | "host") {}

  push(chunk: Buffer): Frame[] {
    if (this.#broken) throw invalid("order", "the frame stream is already broken");
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const frames: Frame[] = [];
    try {
      for (;;) {
        const frame = this.#next();
        if (frame === undefined) return frames;
        frames.push(frame);
      }
    } catch (e) {
      this.#broken = true;
      throw e;
    }
  }

  #next(): Frame | undefined {
    if (this.#buffer.length < 1) return undefined;
    const type = this.#buffer.readUInt8(0);
    const limit = this.#limitFor(type);
    if (this.#buffer.length < HEADER_BYTES) return undefined;
    const length = this.#buffer.readUInt16BE(1);
    if (length < 1 || length > limit) {
      throw invalid("length", `frame of type ${type} with ${length} payload bytes (1 to ${limit} allowed)`, {
        type,
        length,
      });
    }
    if (this.#buffer.length < HEADER_BYTES + length) return undefined;
    const payload = Buffer.from(this.#buffer.subarray(HEADER_BYTES, HEADER_BYTES + length));
    this.#buffer = this.#buffer.subarray(HEADER_BYTES + length);
    if (type === FrameType.hello) {
      this.#helloSeen = true;
      return { type: "hello", hello: parseHello(payload) };
    }
    return { type: type === FrameType.input ? "input" : "output", report: payload };
  }

  /** Checks the type byte as soon as it arrives, so garbage is refused without waiting for more. */
  #limitFor(type: number): number {
    if (this.from === "scale") {
      if (type === FrameType.hello) {
        if (this.#helloSeen) throw invalid("order", "a second hello on one connection");
        return MAX_HELLO_BYTES;
      }
      if (type === FrameType.input) {
        if (!this.#helloSeen) throw invalid("order", "an input report before the hello");
        return MAX_REPORT_BYTES;
      }
    } else if (type === FrameType.output) return MAX_REPORT_BYTES;
    throw invalid(
      "type",
      `unexpected frame type 0x${type.toString(16).padStart(2, "0")} from the ${this.from}`,
      {
        type,
      },
    );
  }
}

function parseHello(payload: Buffer): Hello {
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString("utf8"));
  } catch {
    throw invalid("hello", "the hello is not JSON");
  }
  const parsed = Hello.safeParse(raw);
  if (!parsed.success) {
    throw invalid("hello", "the hello does not describe a scale", {
      issues: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`),
    });
  }
  return parsed.data;
}
