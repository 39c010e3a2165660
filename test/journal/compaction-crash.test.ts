/**
 * A crash between any two steps of compaction reopens to the same state. In-process, the disk is
 * copied at every step (what a kill -9 or, before the rename is durable, a power cut leaves);
 * out of process, a child kills itself at every step.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openJournal } from "../../src/journal/index.js";
import type { CompactionStep } from "../../src/journal/types.js";
import { ledgerOptions, ledgerView } from "../support/journal/ledger.js";
import { assertBuilt, startChild } from "./child.js";

const STEPS: CompactionStep[] = ["snapshot-written", "tail-written", "file-synced", "renamed", "dir-synced"];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "journal-compaction-crash-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("crash during compaction", () => {
  it("reopens every on-disk image taken between the steps to the same state", async () => {
    const path = join(dir, "journal");
    const images = new Map<CompactionStep, string>();
    const journal = await openJournal(
      ledgerOptions(path, {
        compactAtBytes: 0,
        hooks: {
          compaction: async (step) => {
            const img = join(dir, `image-${step}`);
            mkdirSync(img);
            for (const name of ["journal", "journal.compact"]) {
              if (existsSync(join(dir, name))) copyFileSync(join(dir, name), join(img, name));
            }
            images.set(step, img);
            // Appends that commit while the snapshot is being written must reach the new file.
            if (step === "snapshot-written") {
              await journal.appendMany([
                { type: "txn.open", body: { id: "during-1", amount: 1 } },
                { type: "txn.close", body: { id: "t4" } },
              ]);
              await journal.append("txn.open", { id: "during-2", amount: 2 });
            }
          },
        },
      }),
    );
    for (let i = 0; i < 40; i++) {
      await journal.append("txn.open", { id: `t${i}`, amount: i });
      if (i % 4 === 0) await journal.append("txn.close", { id: `t${i}` });
    }
    const before = ledgerView(journal.state);
    const report = await journal.compact();
    expect(report.tailRecords).toBe(3);
    const after = ledgerView(journal.state);
    expect(after).not.toEqual(before);
    await journal.close();

    for (const step of STEPS) {
      const img = images.get(step) as string;
      const hadTemp = existsSync(join(img, "journal.compact"));
      const r = await openJournal(ledgerOptions(join(img, "journal")));
      expect(ledgerView(r.state), step).toEqual(step === "snapshot-written" ? before : after);
      expect(r.recovery.droppedTail).toBeNull();
      expect(r.recovery.removedLeftovers.length).toBe(hadTemp ? 1 : 0);
      expect(r.recovery.snapshotSeq !== null, step).toBe(step === "renamed" || step === "dir-synced");
      expect(existsSync(join(img, "journal.compact"))).toBe(false);
      await r.close();
    }
  });

  it("reopens to the acknowledged state after a kill -9 at each step", async () => {
    assertBuilt();
    for (const step of STEPS) {
      const path = join(dir, `killed-${step}`);
      const child = startChild(["compact-crash", path, "c", "30", step]);
      const exit = await child.exited;
      expect(exit.signal, exit.stderr).toBe("SIGKILL");
      expect(child.lines).toContain(`killed-at ${step}`);
      const expected = new Map<string, number>();
      for (const line of child.lines) {
        const [what, id] = line.split(" ");
        if (what === "open") expected.set(id as string, Number(id?.split("-")[1]));
        if (what === "close") expected.delete(id as string);
      }
      expect(expected.size).toBe(20);
      const j = await openJournal(ledgerOptions(path));
      expect([...j.state.open].sort()).toEqual([...expected].sort());
      expect(j.state.closedCount).toBe(10);
      expect(j.lastSeq).toBe(40);
      const renamed = step === "renamed" || step === "dir-synced";
      expect(j.recovery.snapshotSeq).toBe(renamed ? 40 : null);
      expect(j.recovery.removedLeftovers.length).toBe(renamed ? 0 : 1);
      await j.close();
    }
  });
});
