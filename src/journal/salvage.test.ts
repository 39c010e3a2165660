import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ledgerOptions, ledgerView } from "../../test/support/journal/ledger.js";
import { openJournal } from "./open.js";
import { salvageJournal } from "./salvage.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "journal-salvage-"));
  path = join(dir, "journal");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function build(n: number): Promise<{ ends: number[]; views: ReturnType<typeof ledgerView>[] }> {
  const j = await openJournal(ledgerOptions(path, { compactAtBytes: 0 }));
  const ends: number[] = [];
  const views: ReturnType<typeof ledgerView>[] = [];
  for (let i = 0; i < n; i++) {
    await j.append("txn.open", { id: `t${i}`, amount: i });
    ends.push(j.size);
    views.push(ledgerView(j.state));
  }
  await j.close();
  return { ends, views };
}

describe("salvage", () => {
  it("keeps the intact prefix, keeps the damaged file whole beside it, and the journal opens again", async () => {
    const { ends, views } = await build(20);
    const original = readFileSync(path);
    const damaged = Buffer.from(original);
    const at = (ends[9] as number) + 30;
    damaged[at] = (damaged[at] as number) ^ 0xff;
    writeFileSync(path, damaged);
    await expect(openJournal(ledgerOptions(path))).rejects.toMatchObject({ code: "JOURNAL_CORRUPT" });

    const report = await salvageJournal(path);
    expect(report).toMatchObject({
      changed: true,
      damage: { at: ends[9], kind: "middle", reason: "bad-crc" },
      keptBytes: ends[9],
      keptLastSeq: 10,
      droppedBytes: damaged.length - (ends[9] as number),
      laterFrameAt: ends[10],
    });
    expect(readFileSync(report.damagedCopy as string)).toEqual(damaged);
    expect(readFileSync(path)).toEqual(damaged.subarray(0, ends[9]));
    expect(readdirSync(dir).filter((f) => f.endsWith(".salvage") || f.endsWith(".lock"))).toEqual([]);

    const j = await openJournal(ledgerOptions(path));
    expect(ledgerView(j.state)).toEqual(views[9]);
    expect((await j.append("txn.open", { id: "again", amount: 1 })).seq).toBe(11);
    await j.close();
  });

  it("changes nothing on an intact journal", async () => {
    await build(3);
    const before = readFileSync(path);
    expect(await salvageJournal(path)).toMatchObject({
      changed: false,
      damage: null,
      keptLastSeq: 3,
      damagedCopy: null,
    });
    expect(readFileSync(path)).toEqual(before);
  });

  it("refuses while the journal is open", async () => {
    await build(1);
    const j = await openJournal(ledgerOptions(path));
    await expect(salvageJournal(path)).rejects.toMatchObject({ code: "JOURNAL_LOCKED" });
    await j.close();
  });

  it("treats a damaged snapshot as damage before the tail, and salvage keeps it aside", async () => {
    await build(5);
    const j = await openJournal(ledgerOptions(path, { compactAtBytes: 0 }));
    await j.compact();
    await j.close();
    const bytes = readFileSync(path);
    bytes[40] = (bytes[40] as number) ^ 1;
    writeFileSync(path, bytes);
    await expect(openJournal(ledgerOptions(path))).rejects.toMatchObject({
      code: "JOURNAL_CORRUPT",
      context: { offset: 16 },
    });
    const report = await salvageJournal(path);
    expect(report).toMatchObject({ changed: true, keptBytes: 16, keptLastSeq: 0 });
    expect(existsSync(report.damagedCopy as string)).toBe(true);
    const fresh = await openJournal(ledgerOptions(path));
    expect(fresh.state.open.size).toBe(0);
    await fresh.close();
  });
});
