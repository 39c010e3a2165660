/**
 * kill -9 of a writing process at many points. The child prints a line for each append after it
 * resolved; whatever it printed before dying must be in the reopened journal, and whatever is in
 * the journal must be a whole, valid record.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import { openJournal } from "../../src/journal/index.js";
import { ledgerOptions } from "../support/journal/ledger.js";
import { assertBuilt, startChild } from "./child.js";

let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), "journal-kill-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("kill -9 of a writer", () => {
  it("keeps every acknowledged append across 16 kills at different points", async () => {
    const path = join(dir, "journal");
    const ackedOpen = new Map<string, number>();
    const ackedClose = new Set<string>();
    let maxAckedSeq = 0;
    const ackCounts = [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, -1, -2, -3];
    for (const [round, k] of ackCounts.entries()) {
      const concurrency = [1, 4, 16, 64][round % 4] as number;
      const compactEvery = round % 2 === 0 ? "0" : "25";
      // Both ways of syncing: O_DSYNC writes, and write + fdatasync.
      const sync = round % 3 === 2 ? "fdatasync" : "dsync";
      const args = [path, `r${round}`, String(concurrency), "1000000", "3", compactEvery, sync];
      const child = startChild(["write", ...args]);
      await child.waitFor((l) => l.startsWith("ready"));
      if (k >= 0) {
        await child.waitFor((l, n) => n > k && /^(open|close) /.test(l));
      } else {
        // Not tied to an acknowledgement: the kill lands anywhere in the write path.
        await new Promise((r) => setTimeout(r, -k * 7));
      }
      child.proc.kill("SIGKILL");
      const exit = await child.exited;
      expect(exit.signal, exit.stderr).toBe("SIGKILL");

      for (const line of child.lines) {
        const [what, id, seq] = line.split(" ");
        if (what === "open") ackedOpen.set(id as string, Number(id?.split("-")[1]));
        if (what === "close") ackedClose.add(id as string);
        if (what === "open" || what === "close") maxAckedSeq = Math.max(maxAckedSeq, Number(seq));
      }

      const j = await openJournal(ledgerOptions(path, { compactAtBytes: 0 }));
      const closed = j.state.closed as Set<string>;
      for (const [id, amount] of ackedOpen) {
        if (ackedClose.has(id)) continue;
        if (closed.has(id)) continue; // a close that committed without being acknowledged
        expect(j.state.open.get(id), `acknowledged open ${id} after round ${round}`).toBe(amount);
      }
      for (const id of ackedClose) {
        expect(closed.has(id), `acknowledged close ${id}`).toBe(true);
        expect(j.state.open.has(id)).toBe(false);
      }
      // Records that committed without acknowledgement are whole: each id names its amount.
      for (const [id, amount] of j.state.open) {
        expect(id).toMatch(/^r\d+-\d+$/);
        expect(amount).toBe(Number(id.split("-")[1]));
      }
      expect(j.lastSeq).toBeGreaterThanOrEqual(maxAckedSeq);
      await j.close();
    }
    // The rounds that wait for acknowledgements alone account for more than this.
    expect(ackedOpen.size).toBeGreaterThan(300);
  });

  it("refuses a second process while the first holds the journal, and takes over after its kill -9", async () => {
    const path = join(dir, "locked");
    const holder = startChild(["hold", path]);
    try {
      await holder.waitFor((l) => l === "holding");
      const err = await openJournal(ledgerOptions(path)).catch((e: unknown) => e);
      expect(isTermhostError(err, "JOURNAL_LOCKED")).toBe(true);
      expect((err as { context: { pid: number } }).context.pid).toBe(holder.proc.pid);
      expect((err as Error).message).toContain(`in use by pid ${holder.proc.pid}`);
    } finally {
      holder.proc.kill("SIGKILL");
      await holder.exited;
    }
    const j = await openJournal(ledgerOptions(path));
    await j.close();
  });
});
