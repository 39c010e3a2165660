import { TermhostError } from "../../errors/errors.js";
import { copyInto } from "./copy.js";

/** A response APDU: optional data followed by the two status bytes SW1 SW2. */
export interface ResponseApdu {
  data: Buffer;
  /** SW1 << 8 | SW2, e.g. 0x9000. */
  sw: number;
}

export const sw1Of = (sw: number): number => (sw >> 8) & 0xff;
export const sw2Of = (sw: number): number => sw & 0xff;

/** Largest response a card may send: 65536 data bytes plus SW1 SW2. */
export const MAX_RESPONSE_LENGTH = 65538;

/** Shared by every response without data: a zero-length buffer has nothing to change. */
const EMPTY = Buffer.alloc(0);

export function parseResponse(bytes: Uint8Array): ResponseApdu {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 2) {
    throw new TermhostError("APDU_MALFORMED", `response APDU of ${buf.length} bytes has no status word`, {
      context: { length: buf.length },
    });
  }
  if (buf.length > MAX_RESPONSE_LENGTH) {
    throw new TermhostError("APDU_MALFORMED", `response APDU of ${buf.length} bytes is too long`, {
      context: { length: buf.length },
    });
  }
  // The data is copied: the caller's buffer may be reused by its transport.
  const n = buf.length - 2;
  const data = n === 0 ? EMPTY : Buffer.allocUnsafe(n);
  copyInto(data, 0, buf, n);
  return { data, sw: (buf[n] as number) * 256 + (buf[n + 1] as number) };
}

export function serializeResponse(response: ResponseApdu): Buffer {
  if (!Number.isInteger(response.sw) || response.sw < 0 || response.sw > 0xffff) {
    throw new TermhostError("APDU_MALFORMED", `status word must be 0000..FFFF, got ${response.sw}`, {
      context: { sw: response.sw },
    });
  }
  if (response.data.length > MAX_RESPONSE_LENGTH - 2) {
    throw new TermhostError("APDU_MALFORMED", `response data of ${response.data.length} bytes is too long`, {
      context: { length: response.data.length },
    });
  }
  const sw = Buffer.alloc(2);
  sw.writeUInt16BE(response.sw);
  return Buffer.concat([response.data, sw]);
}
