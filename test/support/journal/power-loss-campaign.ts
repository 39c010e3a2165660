/**
 * The power-loss campaign's harness: drive a workload on a PowerLossFs, cut power at a chosen sync
 * point or operation, reboot (possibly cutting again during recovery), reopen from what is on
 * disk, and collect every broken invariant as a line of text that names the seed.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { TermhostError } from "../../../src/errors/errors.js";
import { decodeFrame, FILE_HEADER_SIZE } from "../../../src/journal/frame.js";
import type { JournalFs } from "../../../src/journal/fs.js";
import type { SyncMode } from "../../../src/journal/types.js";
import { prng } from "../../../src/util/prng.js";
import { type CutReport, PowerLossFs } from "./power-loss-fs.js";

export interface RunConfig {
  readonly seed: number;
  readonly sync: SyncMode;
  readonly sectorBytes: number;
  readonly writers: number;
  readonly opsPerPhase: number;
  /** Close and reopen between phases. */
  readonly phases: number;
  readonly compactAtBytes: number;
  readonly cutAtSync?: number;
  readonly cutAtOp?: number;
  /** Cut again at this sync point of the recovery boot (its tail drop, the appends after it). */
  readonly recoveryCutAtSync?: number;
  /** After all checks, flip a byte of a committed write that is not the last one: the open must refuse. */
  readonly damage?: boolean;
}

export interface RunResult {
  readonly failures: string[];
  readonly syncPoints: number;
  readonly ops: number;
  readonly cut: CutReport | null;
  readonly recoveryCut: CutReport | null;
  /** Why the boot after the cut dropped a torn tail; null when it found none. */
  readonly droppedTail: string | null;
}

/** What a campaign drives: it opens the journal itself, on the file system it is given. */
export interface Workload {
  /** One boot's work: open, concurrent writers and compactions, close. Throws after a cut. */
  drive(fs: JournalFs, phase: number): Promise<void>;
  /** The boot after the cut: open (recovery), a few appends, close; returns why a tail was dropped, if one was. */
  recover(fs: JournalFs): Promise<string | null>;
  /** Opens what is on disk and returns every broken invariant. */
  verify(fs: JournalFs): Promise<string[]>;
}

export interface WorkloadEnv {
  readonly path: string;
  readonly sync: SyncMode;
  readonly compactAtBytes: number;
  readonly writers: number;
  readonly opsPerPhase: number;
  readonly rand: () => number;
}

const RUN_TIMEOUT_MS = 20_000;
const BOOT_CLOCK_MS = Date.parse("2025-01-01T00:00:00Z");

function describeError(e: unknown): string {
  if (e instanceof TermhostError) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

let runCounter = 0;

/** Runs one seeded scenario; `baseDir` is a real directory (the journal's lock file lives there). */
export async function runPowerLoss(
  baseDir: string,
  cfg: RunConfig,
  makeWorkload: (env: WorkloadEnv) => Workload,
): Promise<RunResult> {
  const dir = join(baseDir, `run-${process.pid}-${runCounter++}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "journal");
  const failures: string[] = [];
  const w = makeWorkload({
    path,
    sync: cfg.sync,
    compactAtBytes: cfg.compactAtBytes,
    writers: cfg.writers,
    opsPerPhase: cfg.opsPerPhase,
    rand: prng(cfg.seed ^ 0x5eed),
  });
  const disk = { sectorBytes: cfg.sectorBytes };
  const fs1 = new PowerLossFs({
    seed: cfg.seed,
    ...disk,
    ...(cfg.cutAtSync !== undefined ? { cutAtSync: cfg.cutAtSync } : {}),
    ...(cfg.cutAtOp !== undefined ? { cutAtOp: cfg.cutAtOp } : {}),
  });
  const boot: { fs2: PowerLossFs | null; droppedTail: string | null } = { fs2: null, droppedTail: null };
  const body = async (): Promise<void> => {
    for (let phase = 0; phase < cfg.phases; phase++) {
      try {
        await w.drive(fs1, phase);
      } catch (e) {
        if (fs1.cutReport === null)
          failures.push(`phase ${phase} failed without a power cut: ${describeError(e)}`);
        break;
      }
      if (fs1.cutReport !== null) break;
    }
    const fs2 = fs1.reboot({
      seed: cfg.seed + 1,
      ...disk,
      ...(cfg.recoveryCutAtSync !== undefined ? { cutAtSync: cfg.recoveryCutAtSync } : {}),
    });
    boot.fs2 = fs2;
    try {
      boot.droppedTail = await w.recover(fs2);
    } catch (e) {
      if (fs2.cutReport === null) failures.push(`the boot after the cut failed: ${describeError(e)}`);
    }
    const fs3 = fs2.reboot({ seed: cfg.seed + 2, ...disk });
    try {
      failures.push(...(await w.verify(fs3)));
    } catch (e) {
      failures.push(`the final open failed: ${describeError(e)}`);
    }
    if (cfg.damage === true && failures.length === 0) {
      failures.push(
        ...(await damageBeforeTail(fs3.reboot({ seed: cfg.seed + 3, ...disk }), path, w, cfg.seed)),
      );
    }
  };
  let timer: NodeJS.Timeout | undefined;
  // Every boot reads the same clock, like a terminal without a clock battery: anything named
  // after the time (the copy of a torn tail) meets the name an earlier boot gave it.
  const realNow = Date.now;
  Date.now = () => BOOT_CLOCK_MS;
  await Promise.race([
    body(),
    new Promise<void>((res) => {
      timer = setTimeout(() => {
        failures.push(`the scenario hung for ${RUN_TIMEOUT_MS} ms`);
        res();
      }, RUN_TIMEOUT_MS);
    }),
  ]).finally(() => {
    clearTimeout(timer);
    Date.now = realNow;
  });
  return {
    failures,
    syncPoints: fs1.syncPoints,
    ops: fs1.ops,
    cut: fs1.cutReport?.planned === true ? fs1.cutReport : null,
    recoveryCut: boot.fs2?.cutReport?.planned === true ? boot.fs2.cutReport : null,
    droppedTail: boot.droppedTail,
  };
}

/**
 * Damage before the tail must stop the open with JOURNAL_CORRUPT and leave the file as it was:
 * one byte of a frame body is flipped in a write that a later intact write follows.
 */
async function damageBeforeTail(fs: PowerLossFs, path: string, w: Workload, seed: number): Promise<string[]> {
  const file = fs.peek(path);
  if (file === null) return [`seed ${seed}: the journal file is missing after a clean close`];
  const frames: { offset: number; writeStart: number; bodyAt: number; bodyLen: number }[] = [];
  for (let at = FILE_HEADER_SIZE; at < file.length; ) {
    const r = decodeFrame(file, at, at, file.length - at);
    if (!r.ok) return [`seed ${seed}: frame at ${at} unreadable after a clean close (${r.problem})`];
    const f = r.frame;
    frames.push({ offset: at, writeStart: f.writeStart, bodyAt: f.typeEnd, bodyLen: f.bodyEnd - f.typeEnd });
    at += f.size;
  }
  const lastWrite = frames[frames.length - 1]?.writeStart ?? -1;
  const candidates = frames.filter((f) => f.writeStart < lastWrite && f.bodyLen > 0);
  const rand = prng(seed ^ 0xdead);
  const victim = candidates[Math.floor(rand() * candidates.length)];
  if (victim === undefined) return [];
  const damaged = Buffer.from(file);
  const at = victim.bodyAt + Math.floor(rand() * victim.bodyLen);
  damaged[at] = (damaged[at] as number) ^ 0x20;
  fs.overwrite(path, damaged);
  try {
    await w.verify(fs);
    return [
      `seed ${seed}: a flipped byte at ${at}, before the last write at ${lastWrite}, opened without an error`,
    ];
  } catch (e) {
    const out: string[] = [];
    if (!(e instanceof TermhostError) || e.code !== "JOURNAL_CORRUPT") {
      out.push(`seed ${seed}: damage at ${at} before the tail gave ${describeError(e)}, not JOURNAL_CORRUPT`);
    } else if (e.context?.offset !== victim.offset) {
      out.push(
        `seed ${seed}: damage in the frame at ${victim.offset} reported at ${String(e.context?.offset)}`,
      );
    }
    if (!fs.peek(path)?.equals(damaged)) out.push(`seed ${seed}: the refused open changed the damaged file`);
    return out;
  }
}
