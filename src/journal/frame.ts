/**
 * Byte layout of the journal file: a 16-byte file header, then frames. docs/journal.md is the
 * reference; this file is the only code that knows the offsets.
 */
import { crc32c } from "./crc32c.js";

export const FILE_MAGIC = Buffer.from("TERMJRNL", "latin1");
export const FORMAT_VERSION = 1;
export const FILE_HEADER_SIZE = 16;

/** 0xFF never occurs in UTF-8, so a JSON body can never contain something that looks like a frame start. */
export const FRAME_MAGIC_0 = 0xff;
export const FRAME_MAGIC_1 = 0x4a;
export const FRAME_HEADER_SIZE = 24;
export const FRAME_CRC_SIZE = 4;
export const FRAME_OVERHEAD = FRAME_HEADER_SIZE + FRAME_CRC_SIZE;

/** Set on the last frame of one write(2): a write is applied on recovery only when its end is intact. */
export const FLAG_WRITE_END = 0x01;
/** Set on the snapshot frame that opens a compacted file. */
export const FLAG_SNAPSHOT = 0x02;
const KNOWN_FLAGS = FLAG_WRITE_END | FLAG_SNAPSHOT;

/** Snapshots may be large; a length beyond this is treated as damage, not as a reason to allocate. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;
export const MAX_TYPE_BYTES = 255;
export const SNAPSHOT_TYPE = "$snapshot";

/** Header flag of a file written by compaction: its first write is a snapshot that must be intact. */
export const HEADER_FLAG_SNAPSHOT = 0x0001;

export function encodeFileHeader(flags: number): Buffer {
  const b = Buffer.alloc(FILE_HEADER_SIZE);
  FILE_MAGIC.copy(b, 0);
  b.writeUInt16LE(FORMAT_VERSION, 8);
  b.writeUInt16LE(flags, 10);
  b.writeUInt32LE(crc32c(b, 0, 12), 12);
  return b;
}

export function fileHeaderFlags(b: Buffer): number {
  return b.readUInt16LE(10);
}

export type FileHeaderProblem = "short" | "bad-magic" | "bad-crc" | "unsupported-version";

export function checkFileHeader(b: Buffer): FileHeaderProblem | null {
  if (b.length < FILE_HEADER_SIZE) return "short";
  if (!b.subarray(0, 8).equals(FILE_MAGIC)) return "bad-magic";
  if (b.readUInt32LE(12) !== crc32c(b, 0, 12)) return "bad-crc";
  if (b.readUInt16LE(8) !== FORMAT_VERSION) return "unsupported-version";
  return null;
}

export interface FrameInput {
  readonly type: Buffer;
  /** Bytes, or text written as UTF-8 (a record's JSON, framed without a Buffer of its own). */
  readonly body: Buffer | string;
  readonly seq: number;
  readonly flags: number;
}

export function frameSize(typeLen: number, bodyLen: number): number {
  return FRAME_OVERHEAD + typeLen + bodyLen;
}

function writeU64(b: Buffer, value: number, at: number): void {
  b.writeUInt32LE(value % 0x1_0000_0000, at);
  b.writeUInt32LE(Math.floor(value / 0x1_0000_0000), at + 4);
}

function readU64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 0x1_0000_0000;
}

/**
 * Encodes the frames of one write into `out` at `at`; `writeStart` is the file offset where the
 * first of them will land. Returns the offset in `out` after the last frame.
 */
export function encodeFrame(out: Buffer, at: number, frame: FrameInput, writeStart: number): number {
  const typeLen = frame.type.length;
  const bodyAt = at + FRAME_HEADER_SIZE + typeLen;
  // The body first, so that its byte length comes from the bytes written. `out` is sized by the
  // caller from the body's UTF-8 length; encodeWrite checks that every frame filled its place.
  const bodyLen =
    typeof frame.body === "string" ? out.write(frame.body, bodyAt, "utf8") : frame.body.copy(out, bodyAt);
  out[at] = FRAME_MAGIC_0;
  out[at + 1] = FRAME_MAGIC_1;
  out[at + 2] = frame.flags;
  out[at + 3] = typeLen;
  out.writeUInt32LE(bodyLen, at + 4);
  writeU64(out, frame.seq, at + 8);
  writeU64(out, writeStart, at + 16);
  frame.type.copy(out, at + FRAME_HEADER_SIZE);
  const end = bodyAt + bodyLen;
  out.writeUInt32LE(crc32c(out, at, end), end);
  return end + FRAME_CRC_SIZE;
}

/** Where a decoded frame's parts lie in the buffer it was decoded from. */
export interface DecodedFrame {
  offset: number;
  size: number;
  flags: number;
  seq: number;
  writeStart: number;
  typeStart: number;
  typeEnd: number;
  bodyEnd: number;
}

export type FrameProblem = "short-frame" | "bad-magic" | "bad-length" | "bad-crc";

export interface DecodeOk {
  readonly ok: true;
  readonly frame: DecodedFrame;
}

export type DecodeResult =
  | DecodeOk
  | { readonly ok: false; readonly problem: FrameProblem; readonly needBytes?: number };

export function newDecodeSlot(): DecodeOk {
  return {
    ok: true,
    frame: { offset: 0, size: 0, flags: 0, seq: 0, writeStart: 0, typeStart: 0, typeEnd: 0, bodyEnd: 0 },
  };
}

/**
 * Decodes the frame starting at `buf[at]`, which sits at file offset `fileOffset`. `fileRemaining`
 * is how many file bytes exist from that offset on: a frame that needs more than the buffer holds
 * but fits in the file asks for a larger read (`needBytes`) instead of being called short.
 * A successful decode fills and returns `slot`, so that replay allocates nothing per frame here.
 */
export function decodeFrame(
  buf: Buffer,
  at: number,
  fileOffset: number,
  fileRemaining: number,
  slot: DecodeOk = newDecodeSlot(),
): DecodeResult {
  const avail = buf.length - at;
  if (fileRemaining < FRAME_OVERHEAD) return { ok: false, problem: "short-frame" };
  if (avail < FRAME_HEADER_SIZE) return { ok: false, problem: "short-frame", needBytes: FRAME_HEADER_SIZE };
  if (buf[at] !== FRAME_MAGIC_0 || buf[at + 1] !== FRAME_MAGIC_1) return { ok: false, problem: "bad-magic" };
  const flags = buf[at + 2] as number;
  const typeLen = buf[at + 3] as number;
  const bodyLen = buf.readUInt32LE(at + 4);
  if ((flags & ~KNOWN_FLAGS) !== 0 || typeLen === 0 || bodyLen > MAX_BODY_BYTES) {
    return { ok: false, problem: "bad-length" };
  }
  const size = frameSize(typeLen, bodyLen);
  if (size > fileRemaining) return { ok: false, problem: "short-frame" };
  if (size > avail) return { ok: false, problem: "short-frame", needBytes: size };
  const bodyEnd = at + FRAME_HEADER_SIZE + typeLen + bodyLen;
  if (buf.readUInt32LE(bodyEnd) !== crc32c(buf, at, bodyEnd)) return { ok: false, problem: "bad-crc" };
  const f = slot.frame;
  f.offset = fileOffset;
  f.size = size;
  f.flags = flags;
  f.seq = readU64(buf, at + 8);
  f.writeStart = readU64(buf, at + 16);
  f.typeStart = at + FRAME_HEADER_SIZE;
  f.typeEnd = at + FRAME_HEADER_SIZE + typeLen;
  f.bodyEnd = bodyEnd;
  return slot;
}
