/**
 * Child process for the threadpool test: a process of its own, so that its libuv threadpool is
 * sized by its own environment, the way the daemon's is.
 *
 *   node threadpool-child.js PCSC_SOCKET JOURNAL_PATH READER...
 *
 * Opens the journal, waits for a card in every reader, then sends one APDU to each card at once and
 * prints `{"event":"sent","nativeCallBudget":n|null}`. Each line "append" on stdin appends one
 * journal record and prints `{"event":"appended","ms":…}`; each answered APDU prints
 * `{"event":"answered",…}`; "exit" closes the journal and ends the process.
 */
import { createInterface } from "node:readline";
import { pino } from "pino";
import { openJournal } from "../../src/journal/index.js";
import { ReaderManager } from "../../src/pcsc/reader-manager.js";
import { ledgerOptions } from "./journal/ledger.js";

const [pcscSocket = "", journalPath = "", ...readers] = process.argv.slice(2);
process.env.PCSCLITE_CSOCK_NAME = pcscSocket;

function say(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

const SELECT = Buffer.from("00A4040009F07465726D686F7374", "hex");

const journal = await openJournal(ledgerOptions(journalPath, { compactAtBytes: 0 }));
const manager = new ReaderManager({ log: pino({ level: "silent" }), transmitTimeoutMs: 60_000 });
const present = new Set<string>();
await new Promise<void>((resolve) => {
  manager.on("card-inserted", (v) => {
    present.add(v.name);
    if (readers.every((r) => present.has(r))) resolve();
  });
  manager.start();
});

for (const reader of readers) {
  const started = performance.now();
  manager
    .withCard(reader, "shared", (ch) => ch.transmit(SELECT))
    .then(
      (res) => say({ event: "answered", reader, sw: res.subarray(-2).toString("hex"), ms: ms(started) }),
      (e: unknown) => say({ event: "answered", reader, error: (e as { code?: string }).code ?? String(e) }),
    );
}
const budget = (manager as unknown as { nativeCallBudget?: number }).nativeCallBudget ?? null;
say({ event: "sent", nativeCallBudget: budget });

let appended = 0;
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "append") {
    const started = performance.now();
    const { seq } = await journal.append("txn.open", { id: `t-${appended++}`, amount: 1 });
    say({ event: "appended", seq, ms: ms(started) });
  } else if (line === "exit") {
    break;
  }
}
await journal.close();
manager.stop();
process.exit(0);

function ms(since: number): number {
  return Math.round(performance.now() - since);
}
