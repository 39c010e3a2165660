import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ledgerOptions } from "../../test/support/journal/ledger.js";
import { type JournalFs, nodeFs } from "./fs.js";
import { openJournal } from "./open.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "journal-faults-"));
  path = join(dir, "journal");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** A file system that fails the chosen operations while `armed` says so. */
function faulty() {
  const faults = { writeShortThenENOSPC: false, writeEIO: false, fdatasyncEIO: false, ftruncateEIO: false };
  const fs: JournalFs = {
    ...nodeFs,
    write: async (fd, buf, off, len, pos) => {
      if (faults.writeShortThenENOSPC) {
        // Half the bytes land, then the disk is full: the torn half must not count as committed.
        const half = Math.max(1, Math.floor(len / 2));
        await nodeFs.write(fd, buf, off, half, pos);
        faults.writeShortThenENOSPC = false;
        throw errno("ENOSPC");
      }
      if (faults.writeEIO) throw errno("EIO");
      return nodeFs.write(fd, buf, off, len, pos);
    },
    fdatasync: async (fd) => {
      if (faults.fdatasyncEIO) throw errno("EIO");
      return nodeFs.fdatasync(fd);
    },
    ftruncate: async (fd, len) => {
      if (faults.ftruncateEIO) throw errno("EIO");
      return nodeFs.ftruncate(fd, len);
    },
  };
  return { fs, faults };
}

describe("journal write faults", () => {
  it("rejects the appends of a write that hit ENOSPC, cuts the partial bytes, and carries on", async () => {
    const { fs, faults } = faulty();
    const j = await openJournal(ledgerOptions(path, { fs }));
    await j.append("txn.open", { id: "a", amount: 1 });
    const good = j.size;
    faults.writeShortThenENOSPC = true;
    const failed = await Promise.allSettled([
      j.append("txn.open", { id: "b", amount: 2 }),
      j.append("txn.open", { id: "c", amount: 3 }),
    ]);
    // "b" went out alone and failed; "c" was queued behind it and may succeed in the next write.
    expect(failed[0]).toMatchObject({ status: "rejected", reason: { code: "JOURNAL_WRITE_FAILED" } });
    expect((failed[0] as PromiseRejectedResult).reason.context).toMatchObject({
      errno: "ENOSPC",
      offset: good,
    });
    expect(j.state.open.has("b")).toBe(false);
    expect(j.failure).toBeNull();
    await j.append("txn.open", { id: "d", amount: 4 });
    const expected = ["a", ...(failed[1].status === "fulfilled" ? ["c"] : []), "d"];
    expect([...j.state.open.keys()]).toEqual(expected);
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    expect(again.recovery.droppedTail).toBeNull();
    expect([...again.state.open.keys()]).toEqual(expected);
    await again.close();
  });

  it("after a failed fdatasync refuses appends until reopened, and keeps serving reads", async () => {
    const { fs, faults } = faulty();
    const j = await openJournal(ledgerOptions(path, { fs, sync: "fdatasync" }));
    await j.append("txn.open", { id: "a", amount: 1 });
    faults.fdatasyncEIO = true;
    await expect(j.append("txn.open", { id: "b", amount: 2 })).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
      context: { stage: "sync", errno: "EIO" },
    });
    faults.fdatasyncEIO = false;
    expect(j.failure?.code).toBe("JOURNAL_WRITE_FAILED");
    await expect(j.append("txn.open", { id: "c", amount: 3 })).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
    });
    await expect(j.compact()).rejects.toMatchObject({ code: "JOURNAL_WRITE_FAILED" });
    expect([...j.state.open.keys()]).toEqual(["a"]);
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    // The undo (truncate + fdatasync) went through, so the unacknowledged record is gone.
    expect([...again.state.open.keys()]).toEqual(["a"]);
    await again.append("txn.open", { id: "d", amount: 4 });
    await again.close();
  });

  it("treats a failed O_DSYNC write other than ENOSPC as a failed sync", async () => {
    const { fs, faults } = faulty();
    const j = await openJournal(ledgerOptions(path, { fs }));
    await j.append("txn.open", { id: "a", amount: 1 });
    faults.writeEIO = true;
    await expect(j.append("txn.open", { id: "b", amount: 2 })).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
      context: { stage: "sync", errno: "EIO" },
    });
    faults.writeEIO = false;
    expect(j.failure).not.toBeNull();
    await expect(j.append("txn.open", { id: "c", amount: 3 })).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
    });
    expect([...j.state.open.keys()]).toEqual(["a"]);
    await j.close();
  });

  it("when the partial write cannot be undone, fails the journal and recovery drops the torn bytes", async () => {
    const { fs, faults } = faulty();
    const j = await openJournal(ledgerOptions(path, { fs }));
    await j.append("txn.open", { id: "a", amount: 1 });
    const good = j.size;
    faults.writeShortThenENOSPC = true;
    faults.ftruncateEIO = true;
    await expect(j.append("txn.open", { id: "b", amount: 2, note: "n".repeat(100) })).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
    });
    expect(j.failure).not.toBeNull();
    expect(statSync(path).size).toBeGreaterThan(good);
    await expect(j.append("txn.open", { id: "c", amount: 3 })).rejects.toMatchObject({
      code: "JOURNAL_WRITE_FAILED",
    });
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    expect(again.recovery.droppedTail).toMatchObject({ offset: good, reason: "short-frame" });
    expect([...again.state.open.keys()]).toEqual(["a"]);
    await again.close();
  });

  it("a compaction that hits ENOSPC leaves the journal as it was", async () => {
    const { fs, faults } = faulty();
    const j = await openJournal(ledgerOptions(path, { fs, compactAtBytes: 0 }));
    for (let i = 0; i < 20; i++) await j.append("txn.open", { id: `t${i}`, amount: i });
    const size = statSync(path).size;
    faults.writeShortThenENOSPC = true;
    await expect(j.compact()).rejects.toMatchObject({ code: "JOURNAL_WRITE_FAILED" });
    expect(statSync(path).size).toBe(size);
    expect(j.failure).toBeNull();
    await j.append("txn.open", { id: "after", amount: 1 });
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    expect(again.state.open.size).toBe(21);
    expect(again.recovery.removedLeftovers).toEqual([]);
    await again.close();
  });

  it("after a compaction it could not make, waits for the file to double before trying again", async () => {
    const base = ledgerOptions(path, { compactAtBytes: 2048 });
    let saves = 0;
    const failures: string[] = [];
    const j = await openJournal({
      ...base,
      snapshot: {
        ...base.snapshot,
        save: () => {
          saves++;
          throw new Error("state cannot be serialized");
        },
      },
      onEvent: (e) => {
        if (e.kind === "compaction-failed") failures.push(e.error.code);
      },
    });
    const size = () => statSync(path).size;
    while (size() < 2048) await j.append("txn.open", { id: `t${size()}`, amount: 1 });
    // Appends past the threshold: one attempt, not one per commit.
    for (let i = 0; i < 20; i++) await j.append("txn.open", { id: `a${i}`, amount: 1 });
    await expect.poll(() => failures.length).toBe(1);
    expect(saves).toBe(1);
    expect(failures).toEqual(["JOURNAL_WRITE_FAILED"]);
    while (size() < 2 * 2048 + 512) await j.append("txn.open", { id: `b${size()}`, amount: 1 });
    await expect.poll(() => failures.length).toBe(2);
    expect(saves).toBe(2);
    await j.close();
  });
});
