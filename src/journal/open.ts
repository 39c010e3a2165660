/**
 * Opening a journal: take the lock, clear leftovers of an interrupted compaction or creation,
 * create the file if asked, replay it into live state, and drop a torn tail — or refuse to start
 * when the damage lies before the tail.
 */
import { dirname, resolve } from "node:path";
import { TermhostError } from "../errors/errors.js";
import { compactionTempPath } from "./compaction.js";
import { encodeFileHeader } from "./frame.js";
import {
  fsyncDir,
  type JournalFs,
  nodeFs,
  O_CREAT_EXCL_RDWR,
  O_CREAT_TRUNC_RDWR,
  O_DSYNC,
  O_RDWR,
  readFully,
  writeFully,
} from "./fs.js";
import { Journal } from "./journal.js";
import { acquireLock } from "./lock.js";
import { RecordCodec, unreadable } from "./records.js";
import { type Damage, type ScannedFrame, type ScanResult, scanJournal } from "./recovery.js";
import { salvageTempPath } from "./salvage.js";
import type { DroppedTail, JournalOptions, RecordTypes, RecoveryReport, SyncMode } from "./types.js";

export const DEFAULT_COMPACT_AT_BYTES = 16 * 1024 * 1024;

/** Names tried for the copy of a dropped tail before the open gives up. */
const MAX_TORN_COPY_NAMES = 100;

export function creationTempPath(path: string): string {
  return `${path}.new`;
}

export function openFlags(sync: SyncMode, flags: number): number {
  return sync === "dsync" ? flags | O_DSYNC : flags;
}

export function salvageCommand(path: string): string {
  return `termhost journal salvage ${path}`;
}

export async function openJournal<T extends RecordTypes, S, Snap>(
  options: JournalOptions<T, S, Snap>,
): Promise<Journal<T, S, Snap>> {
  const started = performance.now();
  const f = options.fs ?? nodeFs;
  const path = resolve(options.path);
  const dir = dirname(path);
  const codec = new RecordCodec(options.types);
  const lock = await acquireLock(path);
  let fd: number | null = null;
  try {
    const removedLeftovers: string[] = [];
    for (const leftover of [compactionTempPath(path), creationTempPath(path), salvageTempPath(path)]) {
      if (await f.exists(leftover)) {
        await f.unlink(leftover);
        removedLeftovers.push(leftover);
      }
    }
    let created = false;
    if (!(await f.exists(path))) {
      if (options.create === false) {
        throw new TermhostError("JOURNAL_NOT_FOUND", `journal ${path} does not exist`, {
          hint: "check the configured journal path; a new terminal starts with create enabled",
          context: { path },
        });
      }
      await createEmpty(f, path, dir);
      created = true;
    }
    const sync = options.sync ?? "dsync";
    fd = await f.open(path, openFlags(sync, O_RDWR));
    const openFd = fd;

    let state = options.initialState();
    let snapshotSeq: number | null = null;
    let records = 0;
    const scan = await scanJournal(f, openFd, (frames) => {
      for (const frame of frames) {
        if (frame.snapshot) {
          state = loadSnapshot(options, frame);
          snapshotSeq = frame.seq;
        } else {
          const record = codec.decode(frame);
          try {
            state = options.reduce(state, record);
          } catch (e) {
            throw unreadable(frame, `the reducer rejected it (${(e as Error).message})`);
          }
          records++;
        }
      }
    });
    let droppedTail: DroppedTail | null = null;
    if (scan.damage !== null) {
      if (scan.damage.kind === "middle") throw corrupt(path, scan, scan.damage);
      droppedTail = await dropTail(f, openFd, path, dir, scan, scan.damage);
    }
    const recovery: RecoveryReport = {
      path,
      created,
      fileBytes: scan.validEnd,
      snapshotSeq,
      recordsReplayed: records,
      lastSeq: scan.lastSeq,
      droppedTail,
      removedLeftovers,
      durationMs: performance.now() - started,
    };
    return new Journal({
      fs: f,
      sync,
      path,
      dir,
      fd: openFd,
      size: scan.validEnd,
      lastSeq: scan.lastSeq,
      state,
      codec,
      reduce: options.reduce,
      snapshot: options.snapshot,
      lock,
      recovery,
      compactAtBytes: options.compactAtBytes ?? DEFAULT_COMPACT_AT_BYTES,
      hooks: options.hooks ?? {},
      onEvent: options.onEvent ?? (() => undefined),
    });
  } catch (e) {
    if (fd !== null) await f.close(fd).catch(() => undefined);
    await lock.release();
    throw e;
  }
}

/**
 * The body text, the parsed JSON, the validated snapshot and the state built from it are each the
 * size of the whole state: each step is a function of its own so that only two of them are alive
 * at once (a snapshot of the default retention is tens of megabytes of text).
 */
function loadSnapshot<T extends RecordTypes, S, Snap>(
  options: JournalOptions<T, S, Snap>,
  frame: ScannedFrame,
): S {
  return options.snapshot.load(validSnapshot(options, frame));
}

function validSnapshot<T extends RecordTypes, S, Snap>(
  options: JournalOptions<T, S, Snap>,
  frame: ScannedFrame,
): Snap {
  const parsed = options.snapshot.schema.safeParse(snapshotJson(frame));
  if (!parsed.success) {
    throw new TermhostError(
      "JOURNAL_RECORD_INVALID",
      `snapshot (seq ${frame.seq}) does not match the snapshot schema: ${parsed.error.message}`,
      { context: { offset: frame.offset, seq: frame.seq } },
    );
  }
  return parsed.data;
}

function snapshotJson(frame: ScannedFrame): unknown {
  try {
    return JSON.parse(frame.bodyText());
  } catch (e) {
    throw new TermhostError("JOURNAL_RECORD_INVALID", `snapshot at offset ${frame.offset} is not JSON`, {
      cause: e,
    });
  }
}

/** A new journal appears whole or not at all: header written to a side file, fsynced, renamed in. */
async function createEmpty(f: JournalFs, path: string, dir: string): Promise<void> {
  const tmp = creationTempPath(path);
  const fd = await f.open(tmp, O_CREAT_TRUNC_RDWR);
  try {
    const header = encodeFileHeader(0);
    await writeFully(f, fd, header, header.length, 0);
    await f.fsync(fd);
  } finally {
    await f.close(fd);
  }
  await f.rename(tmp, path);
  await fsyncDir(f, dir);
}

function corrupt(path: string, scan: ScanResult, d: Damage): TermhostError {
  const where =
    d.laterFrameAt !== null
      ? `an intact record written later follows at offset ${d.laterFrameAt}`
      : "it destroyed the snapshot the file starts with";
  return new TermhostError(
    "JOURNAL_CORRUPT",
    `journal ${path} is damaged at offset ${d.at} (${d.reason}) and ${where}: this is not a torn tail, so nothing was dropped`,
    {
      hint: `stop here and keep a copy of the file; \`${salvageCommand(path)}\` keeps the intact prefix (${d.truncateAt} bytes, up to seq ${scan.lastSeq}) and moves the damaged file aside`,
      context: {
        path,
        offset: d.at,
        reason: d.reason,
        validPrefixBytes: d.truncateAt,
        lastIntactSeq: scan.lastSeq,
        laterFrameAt: d.laterFrameAt,
        fileBytes: scan.fileSize,
        salvage: salvageCommand(path),
      },
    },
  );
}

/** Keeps the dropped bytes beside the journal, then cuts the file back to its last intact write. */
async function dropTail(
  f: JournalFs,
  fd: number,
  path: string,
  dir: string,
  scan: ScanResult,
  d: Damage,
): Promise<DroppedTail> {
  const bytes = scan.fileSize - d.truncateAt;
  let savedTo: string | null = null;
  if (bytes > 0) {
    const buf = Buffer.allocUnsafe(bytes);
    const n = await readFully(f, fd, buf, 0, bytes, d.truncateAt);
    const base = `${path}.torn-${d.truncateAt}-${Date.now()}`;
    let out: number | null = null;
    // A power cut after an earlier recovery's copy got its name, but before its cut-back was
    // durable, leaves that name taken; the clock of a terminal without a battery may read the
    // same millisecond again. That copy stays as evidence; this one takes the next free name.
    for (let k = 0; out === null; k++) {
      savedTo = k === 0 ? base : `${base}.${k}`;
      try {
        out = await f.open(savedTo, O_CREAT_EXCL_RDWR);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST" || k >= MAX_TORN_COPY_NAMES) throw e;
      }
    }
    try {
      await writeFully(f, out, buf, n, 0);
      await f.fsync(out);
    } finally {
      await f.close(out);
    }
    await fsyncDir(f, dir);
    await f.ftruncate(fd, d.truncateAt);
    await f.fdatasync(fd);
  }
  return {
    offset: d.truncateAt,
    bytes,
    reason: d.reason,
    damageAt: d.at,
    intactFramesDropped: d.framesNotApplied,
    savedTo,
  };
}
