/**
 * A full day's retained state at the default retention caps, in real journals on disk, through
 * the journal API with the daemon's record types, reducers and snapshot codecs:
 *   value     DEFAULT_RETENTION.maxClosed closed transactions (and a few more, which the cap drops):
 *             debits (requested, debiting, applied) and loads (requested, authorizing, authorized,
 *             applied), automatic compaction on as in the daemon;
 *   postage   the default retainFinishedBatches finished batches holding retainFinishedPieces
 *             printed pieces (opened, an intent and an indicium per piece, closed).
 * Then, with both journals open: RSS and V8 heap after a compacting full GC; an explicit compaction of each
 * (the snapshot at this size); a close and a reopen of each (recovery: the snapshot loaded, plus
 * the tail replayed); RSS and heap again after the reopen; and the worst reopen the automatic
 * compaction allows, a snapshot followed by a tail that has grown just short of the next
 * compaction. Bounds (docs/performance.md): RSS under 150 MB with both states live, and every
 * reopen under 1 s. The last line is one JSON object with the figures.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../src/daemon/node-flags.js";
import {
  DEFAULT_COMPACT_AT_BYTES,
  type Journal,
  nextCompactionAt,
  openJournal,
  type RecordInput,
} from "../src/journal/index.js";
import { PostageConfig, retentionOf } from "../src/postage/config.js";
import { ledgerJournalOptions } from "../src/postage/ledger/ledger.js";
import type { LedgerRecords } from "../src/postage/ledger/records.js";
import type { LedgerSnapshot, LedgerState } from "../src/postage/ledger/state.js";
import {
  DEFAULT_RETENTION,
  type ValueRecords,
  type ValueState,
  valueJournalOptions,
} from "../src/value/records.js";

// RSS and heap "after GC" need a GC on demand: run again under --expose-gc when it is missing, and
// with the V8 flags and environment the daemon runs with, since its memory is what is measured.
if (typeof globalThis.gc !== "function") {
  const r = spawnSync(
    process.execPath,
    ["--expose-gc", ...DAEMON_NODE_FLAGS, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: "inherit", env: { ...process.env, ...DAEMON_ENV } },
  );
  process.exit(r.status ?? 1);
}
const gc = globalThis.gc as () => void;

const RSS_LIMIT_MB = 150;
const REOPEN_LIMIT_MS = 1000;
const VALUE_TXS = DEFAULT_RETENTION.maxClosed + 1_000;
const POSTAGE = retentionOf(PostageConfig.parse({}));
const PIECES_PER_BATCH = Math.ceil(POSTAGE.maxPieces / POSTAGE.maxBatches);
const BATCHES = POSTAGE.maxBatches + 100;
/** Transactions (or batches) per appendMany: one write each, as a busy day's group commits would be. */
const GROUP = 250;

type ValueJournal = Journal<ValueRecords, ValueState, unknown>;
type PostageJournal = Journal<LedgerRecords, LedgerState, LedgerSnapshot>;

/**
 * How long the process is left idle before it is measured: V8 frees the memory of dead
 * ArrayBuffers (the replay's read buffer, a snapshot's bytes) and unmaps free pages on background
 * tasks after a GC. BENCH_MEMORY_SETTLE_MS changes it.
 */
const SETTLE_MS = Number(process.env.BENCH_MEMORY_SETTLE_MS ?? 12_000);
const UNMAP_MS = 2_000;

/**
 * After a compacting full GC and SETTLE_MS idle. A plain forced GC leaves the heap's free pages
 * mapped; V8 gives them back when its memory reducer runs a compacting GC, some seconds after
 * allocation stops, as it does many times over in a daemon that has served a day. A process that
 * appended the day in seconds may not have had it yet (measured: 40 MB more in two runs of seven),
 * so the bench runs that compacting GC itself. BENCH_MEMORY_SMAPS=1 prints where the RSS is.
 */
async function memory(): Promise<{ rss: number; heap: number; peakRss: number }> {
  // The peak so far, before the compacting GC's own copy of the live heap adds to it.
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  setFlagsFromString("--compact-on-every-full-gc");
  try {
    gc();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    gc();
    // The GC evacuates onto fresh pages and unmaps the old ones on a background task.
    await new Promise((r) => setTimeout(r, UNMAP_MS));
  } finally {
    setFlagsFromString("--no-compact-on-every-full-gc");
  }
  if (process.env.BENCH_MEMORY_SMAPS === "1") console.error(`rss by mapping: ${rssByMapping()}`);
  const m = process.memoryUsage();
  const mb = (b: number): number => Number((b / 1048576).toFixed(1));
  return { rss: mb(m.rss), heap: mb(m.heapUsed), peakRss: mb(Number(peak?.[1] ?? 0) * 1024) };
}

/** RSS per kind of mapping (the V8 heap and thread stacks are anonymous, malloc's arena is [heap]). */
function rssByMapping(): string {
  const kb = new Map<string, number>();
  let name = "";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) name = line.split(/\s+/).slice(5).join(" ") || "[anon]";
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss !== null) kb.set(name, (kb.get(name) ?? 0) + Number(rss[1]));
  }
  return [...kb]
    .filter(([, v]) => v >= 1024)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} MB`)
    .join(", ");
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: Number((performance.now() - t0).toFixed(1)) };
}

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, "0");
const DAY = Date.parse(new Date().toISOString().slice(0, 10));
/** Spread over the day so far, so that nothing is past the 30-day retention. */
const at = (i: number, of: number): string =>
  new Date(DAY + Math.floor((i / of) * Math.min(86_400_000, Date.now() - DAY))).toISOString();

function valueRecords(i: number): RecordInput<ValueRecords>[] {
  const txId = `vtx-${hex(i, 10)}-${hex(i * 2654435761, 10)}`;
  const when = at(i, VALUE_TXS);
  const cardId = hex(0x04000000 + (i % 5000), 16);
  const debit = i % 3 !== 0;
  const amount = 100 + (i % 4900);
  const counter = i;
  const requested: RecordInput<ValueRecords> = {
    type: "value.requested",
    body: {
      txId,
      requestId: `kiosk-${hex(i, 12)}`,
      kind: debit ? "debit" : "load",
      reader: `Virtual PCD 00 0${i % 2}`,
      amount,
      currency: 978,
      at: when,
    },
  };
  const message = { counter, amount, currency: 978, terminalId: "0011223344556677" };
  const middle: RecordInput<ValueRecords>[] = debit
    ? [
        {
          type: "value.debiting",
          body: { txId, cardId, balanceBefore: 10_000, message, at: when },
        },
      ]
    : [
        {
          type: "value.authorizing",
          body: { txId, cardId, counter, balanceBefore: 10_000, at: when },
        },
        {
          type: "value.authorized",
          body: { txId, authorizationId: i, message: { ...message, s2: hex(i, 16) }, at: when },
        },
      ];
  const applied: RecordInput<ValueRecords> = {
    type: "value.applied",
    body: {
      txId,
      balanceAfter: debit ? 10_000 - amount : 10_000 + amount,
      proof: hex(i * 7919, 16),
      restored: null,
      at: when,
    },
  };
  return [requested, ...middle, applied];
}

let descending = 1_000_000_000;
let sequence = 0;
function postageRecords(n: number): RecordInput<LedgerRecords>[] {
  const batchId = `b-${hex(n, 16)}`;
  const piece = { amount: 95, currency: "EUR", class: 1, origin: "75001" };
  const pieces = Array.from({ length: PIECES_PER_BATCH }, () => piece);
  const date = at(n, BATCHES).slice(0, 10);
  const out: RecordInput<LedgerRecords>[] = [
    {
      type: "reservation.opened",
      body: {
        batchId,
        requestId: `print-${hex(n, 12)}`,
        meter: "meter-1",
        currency: "EUR",
        amount: piece.amount * PIECES_PER_BATCH,
        pieces,
        requestedPieces: PIECES_PER_BATCH,
        onInsufficient: "reject",
        openedAt: at(n, BATCHES),
      },
    },
  ];
  for (let p = 0; p < PIECES_PER_BATCH; p++) {
    const txnId = hex(n, 16) + hex(p, 16);
    out.push({
      type: "print.intent",
      body: {
        batchId,
        pieceIndex: p,
        request: { txnId, amount: piece.amount, date, mailClass: 1, origin: "75001" },
      },
    });
    descending -= piece.amount;
    sequence++;
    out.push({
      type: "indicium.printed",
      body: {
        batchId,
        pieceIndex: p,
        txnId,
        amount: piece.amount,
        sequence,
        descendingAfter: descending,
        date,
        mac: hex(n * 31 + p, 16),
      },
    });
  }
  out.push({
    type: "reservation.closed",
    body: { batchId, outcome: "completed", released: 0, closedAt: at(n, BATCHES) },
  });
  return out;
}

async function fill<T extends ValueRecords | LedgerRecords>(
  journal: { appendMany(r: readonly RecordInput<T>[]): Promise<readonly number[]> },
  count: number,
  records: (i: number) => RecordInput<T>[],
): Promise<number> {
  let n = 0;
  for (let i = 0; i < count; i += GROUP) {
    const group: RecordInput<T>[] = [];
    for (let k = i; k < Math.min(count, i + GROUP); k++) group.push(...records(k));
    await journal.appendMany(group);
    n += group.length;
  }
  return n;
}

const openValue = (path: string): Promise<ValueJournal> =>
  openJournal({ path, ...valueJournalOptions(DEFAULT_RETENTION) }) as unknown as Promise<ValueJournal>;
const openPostage = (path: string): Promise<PostageJournal> =>
  openJournal(ledgerJournalOptions({ path, retention: POSTAGE }));

/** Appends more of the same, GROUP at a time, until the next group would start an automatic compaction. */
async function growTail<T extends ValueRecords | LedgerRecords>(
  journal: { readonly size: number; appendMany(r: readonly RecordInput<T>[]): Promise<readonly number[]> },
  from: number,
  records: (i: number) => RecordInput<T>[],
): Promise<void> {
  const limit = nextCompactionAt(DEFAULT_COMPACT_AT_BYTES, journal.size);
  let groupBytes = 0;
  for (let i = from; ; i += GROUP) {
    const group: RecordInput<T>[] = [];
    for (let k = i; k < i + GROUP; k++) group.push(...records(k));
    if (journal.size + 2 * groupBytes >= limit) return;
    const before = journal.size;
    await journal.appendMany(group);
    groupBytes = Math.max(groupBytes, journal.size - before);
  }
}

interface Reopened {
  value_ms: number;
  postage_ms: number;
  value_replayed: number;
  postage_replayed: number;
  value_closed: number;
  postage_batches: number;
  rss: number;
  heap: number;
  peak_rss: number;
}

/**
 * The reopen, in a process of its own as after a restart: its time, and the memory of a daemon
 * holding what it recovered. BENCH_MEMORY_NODE_FLAGS adds node flags (e.g. --cpu-prof).
 */
function reopenInChild(dir: string): Reopened {
  const flags = (process.env.BENCH_MEMORY_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
  const r = spawnSync(
    process.execPath,
    ["--expose-gc", ...DAEMON_NODE_FLAGS, ...flags, process.argv[1] as string, "--reopen", dir],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  if (r.status !== 0) throw new Error(`the reopen process exited with ${r.status}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) as string) as Reopened;
}

async function reopenHere(dir: string): Promise<void> {
  const value = await timed(() => openValue(join(dir, "value.journal")));
  const postage = await timed(() => openPostage(join(dir, "postage.journal")));
  const m = await memory();
  const out: Reopened = {
    value_ms: value.ms,
    postage_ms: postage.ms,
    value_replayed: value.value.recovery.recordsReplayed,
    postage_replayed: postage.value.recovery.recordsReplayed,
    value_closed: value.value.state.closed.size,
    postage_batches: postage.value.state.finished.size,
    rss: m.rss,
    heap: m.heap,
    peak_rss: m.peakRss,
  };
  await value.value.close();
  await postage.value.close();
  console.log(JSON.stringify(out));
}

async function build(dir: string) {
  const value = await openValue(join(dir, "value.journal"));
  const postage = await openPostage(join(dir, "postage.journal"));
  const builtValue = await timed(() => fill(value, VALUE_TXS, valueRecords));
  const builtPostage = await timed(() => fill(postage, BATCHES, postageRecords));
  const live = await memory();
  const compactValue = await timed(() => value.compact());
  const compactPostage = await timed(() => postage.compact());
  const kept = {
    closedTxs: value.state.closed.size,
    batches: postage.state.finished.size,
    pieces: postage.state.finishedPieces,
  };
  await value.close();
  await postage.close();
  return { builtValue, builtPostage, live, compactValue, compactPostage, kept };
}

/** Grows each file to the longest tail automatic compaction lets through. */
async function growTails(dir: string): Promise<{ value: number; postage: number }> {
  const value = await openValue(join(dir, "value.journal"));
  const postage = await openPostage(join(dir, "postage.journal"));
  await growTail(value, VALUE_TXS, valueRecords);
  await growTail(postage, BATCHES, postageRecords);
  const bytes = { value: value.size, postage: postage.size };
  await value.close();
  await postage.close();
  return bytes;
}

if (process.argv[2] === "--reopen") {
  await reopenHere(process.argv[3] as string);
  process.exit(0);
}

/** BENCH_MEMORY_DIR keeps the journals there for a look afterwards (it must be empty or absent). */
const keep = process.env.BENCH_MEMORY_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), "termhost-bench-memory-"));
if (keep !== undefined) mkdirSync(keep, { recursive: true });
try {
  const base = await memory();
  const b = await build(dir);
  const reopened = reopenInChild(dir);
  if (reopened.value_closed !== b.kept.closedTxs || reopened.postage_batches !== b.kept.batches) {
    throw new Error(`the reopened state differs: ${JSON.stringify({ reopened, kept: b.kept })}`);
  }
  const worstBytes = await growTails(dir);
  const worst = reopenInChild(dir);

  const mb = (x: number): number => Number((x / 1048576).toFixed(1));
  const reopenMax = Math.max(reopened.value_ms, reopened.postage_ms, worst.value_ms, worst.postage_ms);
  const rssMax = Math.max(b.live.rss, reopened.rss, worst.rss);
  console.log(
    `value: ${VALUE_TXS} transactions (${b.builtValue.value} records) in ${(b.builtValue.ms / 1000).toFixed(1)} s; ${b.kept.closedTxs} closed kept`,
  );
  console.log(
    `postage: ${BATCHES} batches of ${PIECES_PER_BATCH} pieces (${b.builtPostage.value} records) in ${(b.builtPostage.ms / 1000).toFixed(1)} s; ${b.kept.batches} batches, ${b.kept.pieces} pieces kept`,
  );
  console.log(
    `memory after GC: empty process RSS ${base.rss} MB heap ${base.heap} MB; after the day's appends RSS ${b.live.rss} MB heap ${b.live.heap} MB; reopened in a new process RSS ${reopened.rss} MB heap ${reopened.heap} MB, peak RSS during the reopen ${reopened.peak_rss} MB (limit RSS ${RSS_LIMIT_MB} MB)`,
  );
  console.log(
    `compaction: value ${b.compactValue.ms} ms → ${mb(b.compactValue.value.bytesAfter)} MB, postage ${b.compactPostage.ms} ms → ${mb(b.compactPostage.value.bytesAfter)} MB`,
  );
  console.log(
    `reopen of the compacted files: value ${reopened.value_ms} ms, postage ${reopened.postage_ms} ms; with the longest tail (${mb(worstBytes.value)} MB, ${worst.value_replayed} records / ${mb(worstBytes.postage)} MB, ${worst.postage_replayed} records): value ${worst.value_ms} ms, postage ${worst.postage_ms} ms, RSS ${worst.rss} MB (limit ${REOPEN_LIMIT_MS} ms)`,
  );
  console.log(
    JSON.stringify({
      bench: "memory",
      value_closed: b.kept.closedTxs,
      postage_batches: b.kept.batches,
      postage_pieces: b.kept.pieces,
      rss_base_mb: base.rss,
      rss_mb: b.live.rss,
      heap_mb: b.live.heap,
      rss_reopened_mb: reopened.rss,
      rss_reopen_peak_mb: reopened.peak_rss,
      heap_reopened_mb: reopened.heap,
      compact_value_ms: b.compactValue.ms,
      compact_postage_ms: b.compactPostage.ms,
      snapshot_value_mb: mb(b.compactValue.value.bytesAfter),
      snapshot_postage_mb: mb(b.compactPostage.value.bytesAfter),
      reopen_value_ms: reopened.value_ms,
      reopen_postage_ms: reopened.postage_ms,
      reopen_worst_value_ms: worst.value_ms,
      reopen_worst_postage_ms: worst.postage_ms,
      file_worst_value_mb: mb(worstBytes.value),
      file_worst_postage_mb: mb(worstBytes.postage),
      rss_worst_mb: worst.rss,
      rss_worst_peak_mb: worst.peak_rss,
      within_limits: rssMax < RSS_LIMIT_MB && reopenMax < REOPEN_LIMIT_MS,
    }),
  );
} finally {
  if (keep === undefined) rmSync(dir, { recursive: true, force: true });
}
