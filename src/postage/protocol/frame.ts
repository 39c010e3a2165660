import { TermhostError } from "../../errors/errors.js";
import { DLE, ESCAPE_XOR, isKnownFrameType, MAX_PAYLOAD, STX } from "./constants.js";
import { crc16 } from "./crc16.js";

/** One frame with its framing (start marker, escaping, length, CRC) already removed. */
export interface RawFrame {
  seq: number;
  type: number;
  payload: Buffer;
}

/** Unescaped frame body: LEN SEQ TYPE PAYLOAD CRC_HI CRC_LO, CRC over LEN..PAYLOAD. */
export function frameBody(frame: RawFrame): Buffer {
  if (frame.payload.length > MAX_PAYLOAD)
    throw new TermhostError("METER_FRAME_INVALID", `payload of ${frame.payload.length} bytes is too long`, {
      context: { reason: "length", length: frame.payload.length, max: MAX_PAYLOAD },
    });
  if (!isByte(frame.seq) || !isByte(frame.type) || !isKnownFrameType(frame.type))
    throw new TermhostError("METER_FRAME_INVALID", "sequence or frame type out of range", {
      context: { reason: "type", seq: frame.seq, type: frame.type },
    });
  const body = Buffer.alloc(frame.payload.length + 5);
  body[0] = frame.payload.length;
  body[1] = frame.seq;
  body[2] = frame.type;
  frame.payload.copy(body, 3);
  body.writeUInt16BE(crc16(body, 0, body.length - 2), body.length - 2);
  return body;
}

/** The bytes to put on the wire: STX, then the body with STX and DLE escaped. */
export function encodeFrame(frame: RawFrame): Buffer {
  const body = frameBody(frame);
  const out: number[] = [STX];
  for (const b of body) {
    if (b === STX || b === DLE) out.push(DLE, b ^ ESCAPE_XOR);
    else out.push(b);
  }
  return Buffer.from(out);
}

function isByte(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xff;
}
