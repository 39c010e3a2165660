/**
 * The journal subcommands' work, offline on a journal file. Verify and inspect replay the file
 * read-only under the journal's lock: nothing is written, a torn tail is reported and left for the
 * daemon's next start to drop. Compact and salvage write, through the journal's own code.
 */
import { existsSync } from "node:fs";
import { basename, isAbsolute, join, resolve } from "node:path";
import { type Config, defaultConfig, loadConfigFile } from "../daemon/config.js";
import { valueRetention } from "../daemon/value-config.js";
import { TermhostError } from "../errors/errors.js";
import { nodeFs, O_RDONLY } from "../journal/fs.js";
import {
  type CompactionReport,
  openJournal,
  type RecoveryReport,
  type SalvageReport,
  salvageCommand,
  salvageJournal,
} from "../journal/index.js";
import { acquireLock } from "../journal/lock.js";
import { RecordCodec } from "../journal/records.js";
import { scanJournal } from "../journal/recovery.js";
import { retentionOf } from "../postage/config.js";
import { LedgerRecords } from "../postage/ledger/records.js";
import {
  allBatches,
  emptyLedger,
  type LedgerState,
  ledgerReducer,
  ledgerSnapshotCodec,
} from "../postage/ledger/state.js";
import { isOpen, type ValueState, valueJournalOptions } from "../value/records.js";

export type JournalKind = "value" | "postage";

/** Compaction keeps closed transactions this long; the daemon's own setting when --config is given. */
function valueOptions(config: Config) {
  return valueJournalOptions(valueRetention(config.value));
}

/** Finished batches are forgotten as the daemon forgets them, by its own settings. */
function postageOptions(config: Config) {
  return {
    types: LedgerRecords,
    initialState: emptyLedger,
    reduce: ledgerReducer(retentionOf(config.postage)),
    snapshot: ledgerSnapshotCodec,
  };
}

export interface JournalTarget {
  path: string;
  kind: JournalKind;
  config: Config;
}

/** `value`, `postage` (the daemon's journals in its state directory) or a path. */
export function resolveJournal(
  which: string,
  o: { config?: string; stateDir?: string; kind?: JournalKind },
): JournalTarget {
  const config = o.config === undefined ? defaultConfig() : loadConfigFile(o.config);
  const stateDir = o.stateDir ?? config.stateDir;
  const inState = (p: string): string => (isAbsolute(p) ? p : join(stateDir, p));
  let path: string;
  let kind = o.kind;
  if (which === "value") {
    path = inState(config.value.journal);
    kind = "value";
  } else if (which === "postage") {
    path = inState(config.postage.journalPath ?? "postage.journal");
    kind = "postage";
  } else {
    path = resolve(which);
    kind ??= basename(path).startsWith("postage")
      ? "postage"
      : basename(path).startsWith("value")
        ? "value"
        : undefined;
  }
  if (kind === undefined) {
    throw new TermhostError("INVALID_PARAMS", `cannot tell what ${path} journals`, {
      hint: "add --kind value or --kind postage",
    });
  }
  if (!existsSync(path)) {
    throw new TermhostError("JOURNAL_NOT_FOUND", `journal ${path} does not exist`, {
      hint: "name it by path, or as `value` / `postage` with --state-dir or --config of the daemon",
      context: { path },
    });
  }
  return { path, kind, config };
}

/** The daemon holds the lock while it runs: say so in the technician's words. */
function explained(e: unknown): unknown {
  if (!(e instanceof TermhostError) || e.code !== "JOURNAL_LOCKED") return e;
  return new TermhostError("JOURNAL_LOCKED", e.message, {
    hint: "the daemon (or another termhost) has this journal open; stop termhostd first (systemctl stop termhostd), or ask the running daemon: `termhost restore list`, `termhost meter status`",
    context: e.context ?? {},
    cause: e,
  });
}

async function lockOrExplain(path: string) {
  try {
    return await acquireLock(path);
  } catch (e) {
    throw explained(e);
  }
}

export interface VerifyReport {
  path: string;
  kind: JournalKind;
  fileBytes: number;
  /** Bytes a daemon would keep: the end of the last intact write. */
  validBytes: number;
  snapshotSeq: number | null;
  records: number;
  lastSeq: number;
  recordTypes: Record<string, number>;
  damage: {
    kind: "tail" | "middle";
    at: number;
    reason: string;
    truncateAt: number;
    laterFrameAt: number | null;
  } | null;
  /** What the daemon's next start does with this file. */
  onOpen: "clean" | "drops-torn-tail" | "refuses-to-start";
  salvage: string | null;
}

interface Replayed<S> {
  report: VerifyReport;
  state: S;
}

async function replay<S>(target: JournalTarget): Promise<Replayed<S>> {
  const opts = (target.kind === "value"
    ? valueOptions(target.config)
    : postageOptions(target.config)) as unknown as {
    types: Record<string, import("zod").ZodType>;
    initialState: () => S;
    reduce: (s: S, r: unknown) => S;
    snapshot: { schema: import("zod").ZodType; load: (snap: unknown) => S };
  };
  const codec = new RecordCodec(opts.types);
  const lock = await lockOrExplain(target.path);
  const fd = await nodeFs.open(target.path, O_RDONLY);
  try {
    let state = opts.initialState();
    let snapshotSeq: number | null = null;
    let records = 0;
    const recordTypes: Record<string, number> = {};
    const scan = await scanJournal(nodeFs, fd, (frames) => {
      for (const frame of frames) {
        if (frame.snapshot) {
          const snap = opts.snapshot.schema.safeParse(JSON.parse(frame.bodyText()));
          if (!snap.success) {
            throw new TermhostError(
              "JOURNAL_RECORD_INVALID",
              `snapshot (seq ${frame.seq}) does not match its schema`,
              {
                context: { offset: frame.offset, seq: frame.seq },
              },
            );
          }
          state = opts.snapshot.load(snap.data);
          snapshotSeq = frame.seq;
          continue;
        }
        const record = codec.decode(frame);
        state = opts.reduce(state, record);
        recordTypes[record.type] = (recordTypes[record.type] ?? 0) + 1;
        records++;
      }
    });
    const d = scan.damage;
    const report: VerifyReport = {
      path: target.path,
      kind: target.kind,
      fileBytes: scan.fileSize,
      validBytes: d === null ? scan.validEnd : d.truncateAt,
      snapshotSeq,
      records,
      lastSeq: scan.lastSeq,
      recordTypes,
      damage:
        d === null
          ? null
          : {
              kind: d.kind,
              at: d.at,
              reason: d.reason,
              truncateAt: d.truncateAt,
              laterFrameAt: d.laterFrameAt,
            },
      onOpen: d === null ? "clean" : d.kind === "tail" ? "drops-torn-tail" : "refuses-to-start",
      salvage: d?.kind === "middle" ? salvageCommand(target.path) : null,
    };
    return { report, state };
  } finally {
    await nodeFs.close(fd);
    await lock.release();
  }
}

export async function verifyJournal(target: JournalTarget): Promise<VerifyReport> {
  return (await replay(target)).report;
}

export interface InspectReport extends VerifyReport {
  summary: ValueSummary | PostageSummary;
}

export interface ValueSummary {
  transactions: number;
  byPhase: Record<string, number>;
  open: Array<{
    txId: string;
    requestId: string;
    kind: string;
    phase: string;
    cardId: string | null;
    counter: number | null;
    amount: number;
  }>;
  reversalsNotReported: number;
}

export interface PostageSummary {
  meters: Array<{ meter: string; serial: string; balance: number; reserved: number; pieceCount: number }>;
  openBatches: Array<{
    batchId: string;
    meter: string;
    remaining: number;
    printed: number;
    pending: boolean;
  }>;
  batchesByOutcome: Record<string, number>;
}

function summarizeValue(s: ValueState): ValueSummary {
  const byPhase: Record<string, number> = {};
  for (const tx of s.txs.values()) byPhase[tx.phase] = (byPhase[tx.phase] ?? 0) + 1;
  const txs = [...s.txs.values()];
  return {
    transactions: txs.length,
    byPhase,
    open: txs.filter(isOpen).map((t) => ({
      txId: t.txId,
      requestId: t.requestId,
      kind: t.kind,
      phase: t.phase,
      cardId: t.cardId,
      counter: t.counter,
      amount: t.amount,
    })),
    reversalsNotReported: txs.filter((t) => t.reversal !== null && !t.reversal.reported).length,
  };
}

function summarizePostage(s: LedgerState): PostageSummary {
  const batches = [...allBatches(s)];
  const open = batches.filter((b) => b.outcome === null);
  const batchesByOutcome: Record<string, number> = {};
  for (const b of batches)
    batchesByOutcome[b.outcome ?? "open"] = (batchesByOutcome[b.outcome ?? "open"] ?? 0) + 1;
  return {
    meters: [...s.meters.entries()].map(([meter, m]) => ({
      meter,
      serial: m.serial,
      balance: m.balance,
      reserved: open.filter((b) => b.meter === meter).reduce((n, b) => n + b.remaining, 0),
      pieceCount: m.pieceCount,
    })),
    openBatches: open.map((b) => ({
      batchId: b.batchId,
      meter: b.meter,
      remaining: b.remaining,
      printed: b.indicia.length,
      pending: b.pending !== null,
    })),
    batchesByOutcome,
  };
}

export async function inspectJournal(target: JournalTarget): Promise<InspectReport> {
  if (target.kind === "value") {
    const r = await replay<ValueState>(target);
    return { ...r.report, summary: summarizeValue(r.state) };
  }
  const r = await replay<LedgerState>(target);
  return { ...r.report, summary: summarizePostage(r.state) };
}

export interface CompactReport {
  path: string;
  recovery: RecoveryReport;
  compaction: CompactionReport;
}

/** Opens the journal as the daemon does (recovery included, so a torn tail is dropped and saved), then compacts. */
export async function compactJournal(target: JournalTarget): Promise<CompactReport> {
  const base = target.kind === "value" ? valueOptions(target.config) : postageOptions(target.config);
  const journal = await openJournal({
    ...(base as ReturnType<typeof postageOptions>),
    path: target.path,
    create: false,
  }).catch((e: unknown) => {
    throw explained(e);
  });
  try {
    const compaction = await journal.compact();
    return { path: target.path, recovery: journal.recovery, compaction };
  } finally {
    await journal.close();
  }
}

export async function salvage(target: JournalTarget): Promise<SalvageReport> {
  try {
    return await salvageJournal(target.path);
  } catch (e) {
    throw explained(e);
  }
}
