/**
 * The file side of compaction: write the snapshot and the records after it to a new file, fsync
 * it, rename it over the journal, fsync the directory. Until the rename the old file is the
 * journal and the new one is a leftover that open removes; after it the new file holds the same
 * state, so a crash between any two steps reopens to the same state.
 */
import { TermhostError } from "../errors/errors.js";
import {
  encodeFileHeader,
  encodeFrame,
  FILE_HEADER_SIZE,
  FLAG_SNAPSHOT,
  FLAG_WRITE_END,
  frameSize,
  HEADER_FLAG_SNAPSHOT,
  SNAPSHOT_TYPE,
} from "./frame.js";
import { fsyncDir, type JournalFs, writeFully } from "./fs.js";
import { encodeWrite, type SequencedRecord } from "./records.js";
import type { CompactionStep } from "./types.js";

export function compactionTempPath(path: string): string {
  return `${path}.compact`;
}

export interface CompactionPlan {
  readonly path: string;
  readonly dir: string;
  /** Flags for the new file, which becomes the journal's append target after the swap. */
  readonly openFlags: number;
  readonly snapshotBody: Buffer;
  readonly snapshotSeq: number;
  readonly step: (step: CompactionStep) => Promise<void>;
  /** Pauses appends and returns the records committed since the snapshot was taken. */
  readonly beforeSwap: () => Promise<readonly SequencedRecord[]>;
  /** The new file is the journal now: append to `fd` from `size` on. */
  readonly swap: (fd: number, size: number) => Promise<void>;
  /** The rename happened but may not be durable: no append may be acknowledged from here. */
  readonly swapFailed: (error: TermhostError) => void;
  readonly afterSwap: () => void;
}

/** Builds the snapshot frame and the file header in front of it. */
export function encodeSnapshotFile(snapshotBody: Buffer, snapshotSeq: number): Buffer {
  const type = Buffer.from(SNAPSHOT_TYPE, "utf8");
  const out = Buffer.allocUnsafe(FILE_HEADER_SIZE + frameSize(type.length, snapshotBody.length));
  encodeFileHeader(HEADER_FLAG_SNAPSHOT).copy(out, 0);
  encodeFrame(
    out,
    FILE_HEADER_SIZE,
    { type, body: snapshotBody, seq: snapshotSeq, flags: FLAG_SNAPSHOT | FLAG_WRITE_END },
    FILE_HEADER_SIZE,
  );
  return out;
}

/** Runs the steps; returns the size of the new journal file. */
export async function writeCompactedFile(f: JournalFs, plan: CompactionPlan): Promise<number> {
  const tmp = compactionTempPath(plan.path);
  let fd: number | null = null;
  let renamed = false;
  try {
    fd = await f.open(tmp, plan.openFlags);
    const head = encodeSnapshotFile(plan.snapshotBody, plan.snapshotSeq);
    await writeFully(f, fd, head, head.length, 0);
    let size = head.length;
    await plan.step("snapshot-written");

    const tail = await plan.beforeSwap();
    if (tail.length > 0) {
      const buf = encodeWrite(tail, size);
      await writeFully(f, fd, buf, buf.length, size);
      size += buf.length;
    }
    await plan.step("tail-written");
    await f.fsync(fd);
    await plan.step("file-synced");
    await f.rename(tmp, plan.path);
    renamed = true;
    await plan.swap(fd, size);
    await plan.step("renamed");
    try {
      await fsyncDir(f, plan.dir);
    } catch (e) {
      const err = new TermhostError(
        "JOURNAL_WRITE_FAILED",
        "compaction renamed the new file but could not fsync the directory",
        {
          hint: "the journal refuses appends until it is reopened",
          context: { path: plan.path },
          cause: e,
        },
      );
      plan.swapFailed(err);
      throw err;
    }
    await plan.step("dir-synced");
    return size;
  } catch (e) {
    if (!renamed && fd !== null) {
      await f.close(fd).catch(() => undefined);
      await f.unlink(tmp).catch(() => undefined);
    }
    if (e instanceof TermhostError) throw e;
    const code = (e as NodeJS.ErrnoException | undefined)?.code ?? "unknown";
    throw new TermhostError(
      "JOURNAL_WRITE_FAILED",
      `compaction failed (${code}); the journal file is unchanged`,
      {
        context: { path: plan.path, errno: code },
        cause: e,
      },
    );
  } finally {
    plan.afterSwap();
  }
}
