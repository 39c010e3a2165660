/**
 * Reads a journal file from the start, hands every intact write to the caller in order, and
 * classifies the first damage it meets: a torn tail (the last write never completed) may be
 * dropped; anything else is damage before the tail and must stop start-up.
 */
import {
  checkFileHeader,
  type DecodedFrame,
  decodeFrame,
  FILE_HEADER_SIZE,
  FLAG_SNAPSHOT,
  FLAG_WRITE_END,
  FRAME_HEADER_SIZE,
  FRAME_MAGIC_0,
  FRAME_MAGIC_1,
  type FrameProblem,
  fileHeaderFlags,
  HEADER_FLAG_SNAPSHOT,
  newDecodeSlot,
} from "./frame.js";
import { type JournalFs, readFully } from "./fs.js";

export type DamageReason =
  | FrameProblem
  | "bad-file-header"
  | "bad-sequence"
  | "bad-write-marker"
  | "misplaced-snapshot"
  | "incomplete-write";

/** Where the scanner's read buffer sits in the file; moves when the scanner reads on. */
interface ReadWindow {
  buf: Buffer;
  bufStart: number;
}

/**
 * One frame of an intact write. Its bytes are read from the scanner's buffer, so it is only valid
 * during the callback that receives it; type and body are decoded on demand because replaying a
 * million records is dominated by such small costs.
 */
export class ScannedFrame {
  readonly offset: number;
  readonly seq: number;
  readonly flags: number;
  readonly #win: ReadWindow;
  readonly #typeStart: number;
  readonly #typeEnd: number;
  readonly #bodyEnd: number;

  constructor(
    win: ReadWindow,
    offset: number,
    seq: number,
    flags: number,
    typeStart: number,
    typeEnd: number,
    bodyEnd: number,
  ) {
    this.#win = win;
    this.offset = offset;
    this.seq = seq;
    this.flags = flags;
    this.#typeStart = typeStart;
    this.#typeEnd = typeEnd;
    this.#bodyEnd = bodyEnd;
  }

  get snapshot(): boolean {
    return (this.flags & FLAG_SNAPSHOT) !== 0;
  }

  get type(): string {
    const w = this.#win;
    return w.buf.toString("utf8", this.#typeStart - w.bufStart, this.#typeEnd - w.bufStart);
  }

  get typeLength(): number {
    return this.#typeEnd - this.#typeStart;
  }

  typeEquals(bytes: Buffer): boolean {
    const w = this.#win;
    const at = this.#typeStart - w.bufStart;
    const n = bytes.length;
    if (this.#typeEnd - this.#typeStart !== n) return false;
    for (let i = 0; i < n; i++) if (w.buf[at + i] !== bytes[i]) return false;
    return true;
  }

  bodyText(): string {
    const w = this.#win;
    return w.buf.toString("utf8", this.#typeEnd - w.bufStart, this.#bodyEnd - w.bufStart);
  }
}

export interface Damage {
  /** Offset of the first frame that failed to read. */
  readonly at: number;
  readonly reason: DamageReason;
  /** Start of the write that holds the damage: everything from here on is not applied. */
  readonly truncateAt: number;
  /** "tail" when nothing written later survives; "middle" otherwise. */
  readonly kind: "tail" | "middle";
  /** Offset of an intact frame from a later write, the evidence for "middle". */
  readonly laterFrameAt: number | null;
  /** Intact frames of the damaged write that were read before the damage and not applied. */
  readonly framesNotApplied: number;
}

export interface ScanResult {
  readonly fileSize: number;
  readonly headerFlags: number;
  /** End of the last intact write. */
  readonly validEnd: number;
  /** Sequence number of the last applied frame; 0 when none. */
  readonly lastSeq: number;
  readonly framesApplied: number;
  readonly damage: Damage | null;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * Scans `fd`. `onWrite` receives the frames of each intact write, oldest first; an exception from
 * it ends the scan and propagates.
 */
export async function scanJournal(
  f: JournalFs,
  fd: number,
  onWrite: (frames: readonly ScannedFrame[]) => void,
): Promise<ScanResult> {
  const fileSize = await f.fstatSize(fd);
  const header = Buffer.alloc(FILE_HEADER_SIZE);
  const got = await readFully(f, fd, header, 0, FILE_HEADER_SIZE, 0);
  if (checkFileHeader(header.subarray(0, got)) !== null) {
    const damage: Damage = {
      at: 0,
      reason: "bad-file-header",
      truncateAt: 0,
      kind: "middle",
      laterFrameAt: null,
      framesNotApplied: 0,
    };
    return { fileSize, headerFlags: 0, validEnd: 0, lastSeq: 0, framesApplied: 0, damage };
  }
  const headerFlags = fileHeaderFlags(header);

  const win: ReadWindow = {
    buf: Buffer.allocUnsafe(0),
    bufStart: FILE_HEADER_SIZE,
  };
  let bufLen = 0;
  /** win.buf cut to the bytes read; remade only when the window moves. */
  let view = win.buf.subarray(0, 0);
  let pos = FILE_HEADER_SIZE;
  let expectedSeq: number | null = null;
  let lastSeq = 0;
  let framesApplied = 0;
  const pending: ScannedFrame[] = [];
  const slot = newDecodeSlot();
  let damageAt = -1;
  let reason: DamageReason = "incomplete-write";

  /** Makes buf hold at least `need` bytes from `pos` (or up to end of file), keeping the pending write. */
  const refill = async (need: number): Promise<void> => {
    const keepFrom = pending.length > 0 ? (pending[0] as ScannedFrame).offset : pos;
    const keep = win.bufStart + bufLen - keepFrom;
    const want = Math.max(Math.min(CHUNK, fileSize - keepFrom), pos - keepFrom + need);
    // Grown for one large frame (a snapshot), the buffer goes back to a chunk once past it, so
    // that it does not stay as large as the state for the rest of the replay.
    if (want > win.buf.length || (win.buf.length > CHUNK && want <= CHUNK)) {
      const fresh = Buffer.allocUnsafe(want);
      win.buf.copy(fresh, 0, keepFrom - win.bufStart, bufLen);
      win.buf = fresh;
    } else {
      win.buf.copy(win.buf, 0, keepFrom - win.bufStart, bufLen);
    }
    win.bufStart = keepFrom;
    bufLen = keep;
    const n = await readFully(f, fd, win.buf, bufLen, win.buf.length - bufLen, win.bufStart + bufLen);
    bufLen += n;
    view = win.buf.subarray(0, bufLen);
  };

  const flush = (): void => {
    onWrite(pending);
    const last = pending[pending.length - 1] as ScannedFrame;
    lastSeq = last.seq;
    framesApplied += pending.length;
    pending.length = 0;
  };

  while (pos < fileSize) {
    let r = decodeFrame(view, pos - win.bufStart, pos, fileSize - pos, slot);
    // A frame larger than the read chunk (a snapshot can be) takes two reads when its header was
    // not in the buffer yet: the first reads a chunk and finds the header, the second the frame.
    while (!r.ok && r.needBytes !== undefined) {
      const had = win.bufStart + bufLen - pos;
      await refill(r.needBytes);
      // A read that brings nothing new (the file is shorter than its size said) is not retried.
      if (win.bufStart + bufLen - pos <= had) break;
      r = decodeFrame(view, pos - win.bufStart, pos, fileSize - pos, slot);
    }
    if (!r.ok) {
      damageAt = pos;
      reason = r.problem;
      break;
    }
    const fr: DecodedFrame = r.frame;
    const first = pending[0];
    const problem = checkPlacement(fr, expectedSeq, first?.offset ?? null);
    if (problem !== null) {
      damageAt = pos;
      reason = problem;
      break;
    }
    const base = win.bufStart;
    pending.push(
      new ScannedFrame(win, pos, fr.seq, fr.flags, base + fr.typeStart, base + fr.typeEnd, base + fr.bodyEnd),
    );
    expectedSeq = fr.seq + 1;
    pos += fr.size;
    if ((fr.flags & FLAG_WRITE_END) !== 0) flush();
  }

  if (damageAt < 0 && pending.length === 0) {
    return { fileSize, headerFlags, validEnd: pos, lastSeq, framesApplied, damage: null };
  }
  if (damageAt < 0) damageAt = pos; // file ends inside a write
  const truncateAt = pending.length > 0 ? (pending[0] as ScannedFrame).offset : damageAt;
  const laterFrameAt = await findLaterWrite(f, fd, damageAt, fileSize);
  // A compacted file's snapshot was fsynced before the file got its name: it cannot be torn.
  const snapshotLost = (headerFlags & HEADER_FLAG_SNAPSHOT) !== 0 && truncateAt === FILE_HEADER_SIZE;
  const damage: Damage = {
    at: damageAt,
    reason,
    truncateAt,
    kind: laterFrameAt === null && !snapshotLost ? "tail" : "middle",
    laterFrameAt,
    framesNotApplied: pending.length,
  };
  return { fileSize, headerFlags, validEnd: truncateAt, lastSeq, framesApplied, damage };
}

function checkPlacement(
  fr: DecodedFrame,
  expectedSeq: number | null,
  writeStart: number | null,
): DamageReason | null {
  const isSnapshot = (fr.flags & FLAG_SNAPSHOT) !== 0;
  if (isSnapshot && (fr.offset !== FILE_HEADER_SIZE || (fr.flags & FLAG_WRITE_END) === 0)) {
    return "misplaced-snapshot";
  }
  if (expectedSeq === null ? !isSnapshot && fr.seq !== 1 : fr.seq !== expectedSeq) return "bad-sequence";
  if (fr.writeStart !== (writeStart ?? fr.offset)) return "bad-write-marker";
  return null;
}

/**
 * Looks past the damage for an intact frame that belongs to a later write (its write started after
 * the damaged frame). Intact frames of the damaged write itself do not count: the pages of one
 * write may reach the disk in any order when power fails before its fdatasync completes.
 */
async function findLaterWrite(
  f: JournalFs,
  fd: number,
  damageAt: number,
  fileSize: number,
): Promise<number | null> {
  let start = damageAt + 1;
  const buf = Buffer.allocUnsafe(Math.max(2, Math.min(CHUNK, fileSize - start)));
  while (start < fileSize - 1) {
    const len = await readFully(f, fd, buf, 0, Math.min(buf.length, fileSize - start), start);
    if (len < 2) break;
    for (
      let i = buf.indexOf(FRAME_MAGIC_0, 0);
      i >= 0 && i < len - 1;
      i = buf.indexOf(FRAME_MAGIC_0, i + 1)
    ) {
      if (buf[i + 1] !== FRAME_MAGIC_1) continue;
      const at = start + i;
      let r = decodeFrame(buf.subarray(0, len), i, at, fileSize - at);
      if (!r.ok && r.needBytes !== undefined) {
        const one = Buffer.allocUnsafe(Math.max(r.needBytes, FRAME_HEADER_SIZE));
        const n = await readFully(f, fd, one, 0, one.length, at);
        r = decodeFrame(one.subarray(0, n), 0, at, fileSize - at);
        if (!r.ok && r.needBytes !== undefined) {
          const whole = Buffer.allocUnsafe(r.needBytes);
          const m = await readFully(f, fd, whole, 0, whole.length, at);
          r = decodeFrame(whole.subarray(0, m), 0, at, fileSize - at);
        }
      }
      if (r.ok && r.frame.writeStart > damageAt && r.frame.writeStart <= at) return at;
    }
    start += len - 1;
  }
  return null;
}
