/**
 * Journal throughput against the limit of this disk, measured in the same run:
 *   raw           write(2) of a 128-byte record + fdatasync, in a loop (the limit)
 *   single        one writer awaiting each append of a 128-byte frame
 *   concurrent64  64 writers appending at once (group commit)
 *   reopen_1m     openJournal of a file holding 1,000,000 records (wall and CPU time), and of its
 *                 compacted snapshot
 * The last line is one JSON object with the figures.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FRAME_OVERHEAD } from "../src/journal/frame.js";
import { nodeFs, O_CREAT_TRUNC_RDWR } from "../src/journal/fs.js";
import { openJournal } from "../src/journal/index.js";
import { ledgerOptions } from "../test/support/journal/ledger.js";

const RECORD_BYTES = 128;
const ROUND_MS = 1000;
const ROUNDS = 4;

const dir = mkdtempSync(join(tmpdir(), "bench-journal-"));

/** txn.open bodies sized so that the whole frame is RECORD_BYTES, like the raw loop's writes. */
const NOTE = "x".repeat(
  RECORD_BYTES -
    FRAME_OVERHEAD -
    "txn.open".length -
    JSON.stringify({ id: "0000000000", amount: 0, note: "" }).length,
);
function body(n: number): { id: string; amount: number; note: string } {
  return { id: String(n).padStart(10, "0"), amount: 0, note: NOTE };
}

async function raw(ms: number, path: string): Promise<number> {
  const fd = await nodeFs.open(path, O_CREAT_TRUNC_RDWR);
  const rec = Buffer.alloc(RECORD_BYTES, 0x61);
  let n = 0;
  let pos = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await nodeFs.write(fd, rec, 0, RECORD_BYTES, pos);
    await nodeFs.fdatasync(fd);
    pos += RECORD_BYTES;
    n++;
  }
  await nodeFs.close(fd);
  return n;
}

async function journal(ms: number, path: string, writers: number): Promise<number> {
  const j = await openJournal(ledgerOptions(path, { keepClosedIds: false, compactAtBytes: 0 }));
  let n = 0;
  const end = performance.now() + ms;
  const writer = async (): Promise<void> => {
    while (performance.now() < end) {
      await j.append("txn.open", body(n));
      n++;
    }
  };
  await Promise.all(Array.from({ length: writers }, writer));
  await j.close();
  return n;
}

async function build1m(path: string): Promise<void> {
  const j = await openJournal(ledgerOptions(path, { keepClosedIds: false, compactAtBytes: 0 }));
  const batch: Parameters<typeof j.appendMany>[0][number][] = [];
  for (let n = 0; n < 500_000; n++) {
    const id = `txn-${n}`;
    batch.push({ type: "txn.open", body: { id, amount: n } });
    // One transaction in a hundred stays open: the live state a restart has to rebuild.
    batch.push({ type: "txn.close", body: { id: n % 100 === 0 ? `never-${n}` : id } });
    if (batch.length >= 10_000) await j.appendMany(batch.splice(0));
  }
  await j.close();
}

/**
 * Wall time is what a restart waits; CPU time (this process, all threads) is what the replay
 * costs, and stays readable when other work shares the machine's cores.
 */
async function reopen(path: string): Promise<{ ms: number; cpuMs: number; records: number; open: number }> {
  const t = performance.now();
  const c = process.cpuUsage();
  const j = await openJournal(ledgerOptions(path, { keepClosedIds: false, compactAtBytes: 0 }));
  const ms = performance.now() - t;
  const u = process.cpuUsage(c);
  const r = {
    ms,
    cpuMs: (u.user + u.system) / 1000,
    records: j.recovery.recordsReplayed,
    open: j.state.open.size,
  };
  await j.close();
  return r;
}

function perSec(n: number, ms: number): number {
  return Math.round((n * 1000) / ms);
}

try {
  let rawN = 0;
  let singleN = 0;
  let concN = 0;
  // Warm-up (JIT, schema compilation), then interleaved rounds, so that load from elsewhere on
  // the machine hits all three alike.
  await raw(300, join(dir, "warm-raw"));
  await journal(300, join(dir, "warm-single"), 1);
  await journal(300, join(dir, "warm-conc"), 64);
  for (let r = 0; r < ROUNDS; r++) {
    rawN += await raw(ROUND_MS, join(dir, `raw-${r}`));
    singleN += await journal(ROUND_MS, join(dir, `single-${r}`), 1);
    concN += await journal(ROUND_MS, join(dir, `conc-${r}`), 64);
  }
  const total = ROUNDS * ROUND_MS;
  const rawPerS = perSec(rawN, total);
  const singlePerS = perSec(singleN, total);
  const concPerS = perSec(concN, total);
  console.log(`raw write+fdatasync (${RECORD_BYTES} B)   ${rawPerS} /s`);
  console.log(
    `journal, 1 writer              ${singlePerS} /s   ${(singlePerS / rawPerS).toFixed(2)}x raw (target >= 0.9)`,
  );
  console.log(
    `journal, 64 writers            ${concPerS} /s   ${(concPerS / singlePerS).toFixed(1)}x single (target >= 20)`,
  );

  const big = join(dir, "million");
  const tb = performance.now();
  await build1m(big);
  console.log(
    `built 1,000,000 records (${statSync(big).size} bytes) in ${Math.round(performance.now() - tb)} ms`,
  );
  const replay = await reopen(big);
  console.log(
    `reopen replaying ${replay.records} records: ${Math.round(replay.ms)} ms, ${Math.round(replay.cpuMs)} ms CPU (${replay.open} open)`,
  );
  const j = await openJournal(ledgerOptions(big, { keepClosedIds: false, compactAtBytes: 0 }));
  await j.compact();
  await j.close();
  const snap = await reopen(big);
  console.log(
    `reopen of the compacted snapshot of that state (${statSync(big).size} bytes): ${Math.round(snap.ms)} ms (${snap.open} open)`,
  );
  console.log(
    JSON.stringify({
      bench: "journal",
      raw_per_s: rawPerS,
      single_per_s: singlePerS,
      concurrent64_per_s: concPerS,
      reopen_1m_ms: Math.round(replay.ms),
      reopen_1m_cpu_ms: Math.round(replay.cpuMs),
      reopen_1m_snapshot_ms: Math.round(snap.ms),
      single_vs_raw: Number((singlePerS / rawPerS).toFixed(3)),
      concurrent64_vs_single: Number((concPerS / singlePerS).toFixed(2)),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
