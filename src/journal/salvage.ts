/**
 * `termhost journal salvage <path>`: the way out when start-up stops on damage before the tail.
 * Keeps the intact prefix as the journal and keeps the damaged file, whole, under another name.
 * Nothing is deleted; at every instant the journal path names either the damaged file or the
 * salvaged one.
 */
import { copyFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { encodeFileHeader, FILE_HEADER_SIZE } from "./frame.js";
import {
  fsyncDir,
  type JournalFs,
  nodeFs,
  O_CREAT_TRUNC_RDWR,
  O_RDONLY,
  readFully,
  writeFully,
} from "./fs.js";
import { acquireLock } from "./lock.js";
import { type DamageReason, scanJournal } from "./recovery.js";

export interface SalvageReport {
  readonly path: string;
  /** False when the file had no damage at all (a torn tail counts as damage here too). */
  readonly changed: boolean;
  readonly damage: {
    readonly at: number;
    readonly reason: DamageReason;
    readonly kind: "tail" | "middle";
  } | null;
  /** Bytes and last sequence number of the intact prefix that is now the journal. */
  readonly keptBytes: number;
  readonly keptLastSeq: number;
  /** Bytes of the original file not in the salvaged journal. */
  readonly droppedBytes: number;
  /** Offset of the first intact frame written after the damage, if any: records from there on need manual review. */
  readonly laterFrameAt: number | null;
  /** The original, damaged file, kept whole. */
  readonly damagedCopy: string | null;
}

export function salvageTempPath(path: string): string {
  return `${path}.salvage`;
}

export async function salvageJournal(
  journalPath: string,
  options: { fs?: JournalFs } = {},
): Promise<SalvageReport> {
  const f = options.fs ?? nodeFs;
  const path = resolve(journalPath);
  const dir = dirname(path);
  const lock = await acquireLock(path);
  try {
    const fd = await f.open(path, O_RDONLY);
    try {
      const scan = await scanJournal(f, fd, () => undefined);
      const d = scan.damage;
      if (d === null) {
        return {
          path,
          changed: false,
          damage: null,
          keptBytes: scan.validEnd,
          keptLastSeq: scan.lastSeq,
          droppedBytes: 0,
          laterFrameAt: null,
          damagedCopy: null,
        };
      }
      const keep = Math.max(d.truncateAt, FILE_HEADER_SIZE);
      const tmp = salvageTempPath(path);
      const out = await f.open(tmp, O_CREAT_TRUNC_RDWR);
      try {
        // A damaged header or a lost snapshot leaves nothing to keep: start from a plain header.
        const header =
          d.truncateAt <= FILE_HEADER_SIZE ? encodeFileHeader(0) : Buffer.allocUnsafe(FILE_HEADER_SIZE);
        if (d.truncateAt > FILE_HEADER_SIZE) await readFully(f, fd, header, 0, FILE_HEADER_SIZE, 0);
        await writeFully(f, out, header, FILE_HEADER_SIZE, 0);
        const chunk = Buffer.allocUnsafe(4 * 1024 * 1024);
        for (let at = FILE_HEADER_SIZE; at < keep; ) {
          const n = await readFully(f, fd, chunk, 0, Math.min(chunk.length, keep - at), at);
          await writeFully(f, out, chunk, n, at);
          at += n;
        }
        await f.fsync(out);
      } finally {
        await f.close(out);
      }
      const damagedCopy = `${path}.damaged-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      try {
        await f.link(path, damagedCopy);
      } catch {
        await copyFile(path, damagedCopy);
      }
      await fsyncDir(f, dir);
      await f.rename(tmp, path);
      await fsyncDir(f, dir);
      return {
        path,
        changed: true,
        damage: { at: d.at, reason: d.reason, kind: d.kind },
        keptBytes: keep,
        keptLastSeq: scan.lastSeq,
        droppedBytes: scan.fileSize - keep,
        laterFrameAt: d.laterFrameAt,
        damagedCopy,
      };
    } finally {
      await f.close(fd).catch(() => undefined);
    }
  } finally {
    await lock.release();
  }
}
