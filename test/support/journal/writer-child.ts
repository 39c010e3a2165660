/**
 * Child process for the journal's crash tests: appends to a journal and prints one line per
 * append that resolved, so the parent knows exactly what was acknowledged before its kill -9.
 *
 *   node writer-child.js write PATH PREFIX CONCURRENCY COUNT [CLOSE_EVERY] [COMPACT_EVERY] [SYNC]
 *     prints "ready", then "open ID SEQ" / "close ID SEQ" per resolved append, then "done"
 *   node writer-child.js compact-crash PATH PREFIX COUNT STEP
 *     appends COUNT opens (closing every third), compacts, and kills itself at compaction STEP
 *   node writer-child.js hold PATH
 *     opens the journal, prints "holding", and waits
 */
import { openJournal } from "../../../src/journal/index.js";
import type { CompactionStep } from "../../../src/journal/types.js";
import { ledgerOptions } from "./ledger.js";

function say(line: string): void {
  // Pipes are written synchronously on Linux, so a printed line left the process before any kill.
  process.stdout.write(`${line}\n`);
}

async function write(args: string[]): Promise<void> {
  const [
    path = "",
    prefix = "w",
    concurrency = "4",
    count = "100",
    closeEvery = "0",
    compactEvery = "0",
    sync,
  ] = args;
  const j = await openJournal(
    ledgerOptions(path, { compactAtBytes: 0, sync: sync === "fdatasync" ? "fdatasync" : "dsync" }),
  );
  say(`ready ${j.lastSeq}`);
  let next = 0;
  let acked = 0;
  const total = Number(count);
  const worker = async (): Promise<void> => {
    while (next < total) {
      const n = next++;
      const id = `${prefix}-${n}`;
      const { seq } = await j.append("txn.open", { id, amount: n, note: "x".repeat(n % 300) });
      say(`open ${id} ${seq}`);
      acked++;
      if (Number(closeEvery) > 0 && n % Number(closeEvery) === 0) {
        const c = await j.append("txn.close", { id });
        say(`close ${id} ${c.seq}`);
      }
      if (Number(compactEvery) > 0 && acked % Number(compactEvery) === 0)
        void j.compact().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  await j.close();
  say("done");
}

async function compactCrash(args: string[]): Promise<void> {
  const [path = "", prefix = "c", count = "50", step = ""] = args;
  const j = await openJournal(
    ledgerOptions(path, {
      compactAtBytes: 0,
      hooks: {
        compaction: (s: CompactionStep) => {
          if (s === step) {
            say(`killed-at ${s}`);
            process.kill(process.pid, "SIGKILL");
          }
        },
      },
    }),
  );
  for (let n = 0; n < Number(count); n++) {
    const id = `${prefix}-${n}`;
    const { seq } = await j.append("txn.open", { id, amount: n });
    say(`open ${id} ${seq}`);
    if (n % 3 === 0) {
      const c = await j.append("txn.close", { id });
      say(`close ${id} ${c.seq}`);
    }
  }
  await j.compact();
  say("compacted");
  await j.close();
}

async function hold(args: string[]): Promise<void> {
  await openJournal(ledgerOptions(args[0] ?? ""));
  say("holding");
  setInterval(() => undefined, 1 << 30);
}

const [mode, ...rest] = process.argv.slice(2);
const run =
  mode === "write" ? write : mode === "compact-crash" ? compactCrash : mode === "hold" ? hold : null;
if (run === null) {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
run(rest).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
