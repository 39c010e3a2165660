import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { ledgerOptions, ledgerView } from "../../test/support/journal/ledger.js";
import { isTermhostError } from "../errors/errors.js";
import { FILE_HEADER_SIZE, FRAME_OVERHEAD } from "./frame.js";
import { nodeFs, O_DSYNC } from "./fs.js";
import { openJournal } from "./open.js";
import { MAX_RECORD_BODY_BYTES } from "./records.js";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "journal-"));
  path = join(dir, "journal");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("journal", () => {
  it("creates, appends, and rebuilds the same state on reopen", async () => {
    const j = await openJournal(ledgerOptions(path));
    expect(j.recovery.created).toBe(true);
    expect((await j.append("txn.open", { id: "a", amount: 500 })).seq).toBe(1);
    expect((await j.append("txn.open", { id: "b", amount: 700 })).seq).toBe(2);
    expect((await j.append("txn.close", { id: "a" })).seq).toBe(3);
    const live = ledgerView(j.state);
    expect(live).toEqual({ open: [["b", 700]], closed: ["a"], closedCount: 1 });
    await j.close();

    const again = await openJournal(ledgerOptions(path));
    expect(again.recovery).toMatchObject({
      created: false,
      recordsReplayed: 3,
      lastSeq: 3,
      droppedTail: null,
    });
    expect(ledgerView(again.state)).toEqual(live);
    expect((await again.append("txn.open", { id: "c", amount: 1 })).seq).toBe(4);
    await again.close();
  });

  it("refuses a missing file when creation is off", async () => {
    await expect(openJournal(ledgerOptions(path, { create: false }))).rejects.toMatchObject({
      code: "JOURNAL_NOT_FOUND",
    });
  });

  it("validates records with their schema before anything is written", async () => {
    const j = await openJournal(ledgerOptions(path));
    const size = j.size;
    await expect(j.append("txn.open", { id: "", amount: 1 })).rejects.toMatchObject({
      code: "JOURNAL_RECORD_INVALID",
    });
    await expect(j.append("txn.open", { id: "x", amount: -1 })).rejects.toMatchObject({
      code: "JOURNAL_RECORD_INVALID",
    });
    // @ts-expect-error an unregistered type is a compile error and a run-time error
    await expect(j.append("txn.nope", { id: "x" })).rejects.toMatchObject({ code: "JOURNAL_RECORD_INVALID" });
    expect(j.size).toBe(size);
    await j.close();
  });

  it.each(["dsync", "fdatasync"] as const)(
    "shares one sync among concurrent appends (group commit, %s)",
    async (sync) => {
      // Under O_DSYNC every write is a sync; otherwise every fdatasync is.
      let syncs = 0;
      const fs = {
        ...nodeFs,
        write: (...a: Parameters<typeof nodeFs.write>) => {
          if (sync === "dsync") syncs++;
          return nodeFs.write(...a);
        },
        fdatasync: (fd: number) => {
          if (sync === "fdatasync") syncs++;
          return nodeFs.fdatasync(fd);
        },
      };
      const j = await openJournal(ledgerOptions(path, { fs, sync }));
      syncs = 0;
      const results = await Promise.all(
        Array.from({ length: 64 }, (_, i) => j.append("txn.open", { id: `t${i}`, amount: i })),
      );
      expect(results.map((r) => r.seq)).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
      // The first append goes out alone; the 63 queued behind it share the next write.
      expect(syncs).toBeGreaterThanOrEqual(1);
      expect(syncs).toBeLessThanOrEqual(2);
      await j.close();
      const again = await openJournal(ledgerOptions(path));
      expect(again.state.open.size).toBe(64);
      await again.close();
    },
  );

  it("resolves an append only after its write is durable", async () => {
    const events: string[] = [];
    const fs = {
      ...nodeFs,
      write: async (...a: Parameters<typeof nodeFs.write>) => {
        const n = await nodeFs.write(...a);
        events.push("write");
        return n;
      },
      fdatasync: async (fd: number) => {
        await nodeFs.fdatasync(fd);
        events.push("fdatasync");
      },
    };
    for (const sync of ["dsync", "fdatasync"] as const) {
      const j = await openJournal(ledgerOptions(path, { fs, sync }));
      events.length = 0;
      await j.append("txn.open", { id: sync, amount: 1 }).then(() => events.push("resolved"));
      expect(events).toEqual(sync === "dsync" ? ["write", "resolved"] : ["write", "fdatasync", "resolved"]);
      await j.close();
    }
    // The journal file itself is opened with O_DSYNC only in dsync mode.
    const dsyncFlags: boolean[] = [];
    const probe = {
      ...nodeFs,
      open: (p: string, flags: number, mode?: number) => {
        if (p === path) dsyncFlags.push((flags & O_DSYNC) !== 0);
        return nodeFs.open(p, flags, mode);
      },
    };
    await (await openJournal(ledgerOptions(path, { fs: probe }))).close();
    await (await openJournal(ledgerOptions(path, { fs: probe, sync: "fdatasync" }))).close();
    expect(dsyncFlags).toEqual([true, false]);
  });

  it("applies appendMany as one write", async () => {
    let writes = 0;
    const fs = {
      ...nodeFs,
      write: (...a: Parameters<typeof nodeFs.write>) => {
        writes++;
        return nodeFs.write(...a);
      },
    };
    const j = await openJournal(ledgerOptions(path, { fs }));
    writes = 0;
    const seqs = await j.appendMany([
      { type: "txn.open", body: { id: "a", amount: 1 } },
      { type: "txn.open", body: { id: "b", amount: 2 } },
      { type: "txn.close", body: { id: "a" } },
    ]);
    expect(seqs).toEqual([1, 2, 3]);
    expect(writes).toBe(1);
    await expect(
      j.appendMany([
        { type: "txn.open", body: { id: "c", amount: 3 } },
        { type: "txn.open", body: { id: "d", amount: -3 } },
      ]),
    ).rejects.toMatchObject({ code: "JOURNAL_RECORD_INVALID" });
    expect(j.state.open.has("c")).toBe(false);
    await j.close();
  });

  it("frames multi-byte text exactly, several records in one write", async () => {
    const ids = ["kiosk-é", "€-42", "\u{1F4EE}-post", "ü".repeat(64), "plain"];
    const j = await openJournal(ledgerOptions(path));
    await j.appendMany(ids.map((id, i) => ({ type: "txn.open", body: { id, amount: i + 1 } })));
    const live = ledgerView(j.state);
    expect(Object.fromEntries(live.open)).toEqual(Object.fromEntries(ids.map((id, i) => [id, i + 1])));
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    expect(again.recovery.recordsReplayed).toBe(ids.length);
    expect(ledgerView(again.state)).toEqual(live);
    await again.close();
  });

  it("refuses a write it cannot frame, writing nothing, and carries on", async () => {
    const j = await openJournal(ledgerOptions(path));
    const size = j.size;
    // A miscounted body: one byte more than its text takes, as a framing bug would count it.
    const byteLength = Buffer.byteLength;
    const miscount = vi
      .spyOn(Buffer, "byteLength")
      .mockImplementation((s, enc) => byteLength(s, enc) + (String(s).includes('"bad"') ? 1 : 0));
    try {
      const refused = await j.append("txn.open", { id: "bad", amount: 1 }).catch((e: unknown) => e);
      expect(isTermhostError(refused, "INTERNAL")).toBe(true);
    } finally {
      miscount.mockRestore();
    }
    expect(j.size).toBe(size);
    expect((await j.append("txn.open", { id: "good", amount: 2 })).seq).toBe(1);
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    expect(ledgerView(again.state).open).toEqual([["good", 2]]);
    await again.close();
  });

  it("shows the reducer exactly what replay will rebuild", async () => {
    const seen: unknown[] = [];
    const types = { "x.rec": z.object({ n: z.number(), tags: z.array(z.string()).default([]) }) };
    const opts = {
      path,
      types,
      initialState: () => [] as unknown[],
      reduce: (s: unknown[], r: { body: unknown }) => {
        s.push(r.body);
        return s;
      },
      snapshot: { schema: z.array(z.unknown()), save: (s: unknown[]) => s, load: (s: unknown[]) => s },
    };
    const j = await openJournal(opts);
    await j.append("x.rec", { n: 1, extra: "dropped by the schema" } as { n: number });
    seen.push(...j.state);
    await j.close();
    const again = await openJournal(opts);
    expect(again.state).toEqual(seen);
    expect(seen).toEqual([{ n: 1, tags: [] }]);
    await again.close();
  });

  it("rejects appends after close and a second opener in the same process", async () => {
    const j = await openJournal(ledgerOptions(path));
    await expect(openJournal(ledgerOptions(path))).rejects.toMatchObject({ code: "JOURNAL_LOCKED" });
    const pending = j.append("txn.open", { id: "a", amount: 1 });
    await j.close();
    await expect(pending).resolves.toEqual({ seq: 1 });
    await expect(j.append("txn.open", { id: "b", amount: 1 })).rejects.toMatchObject({
      code: "JOURNAL_CLOSED",
    });
    const again = await openJournal(ledgerOptions(path));
    expect(again.lastSeq).toBe(1);
    await again.close();
  });

  it("stops on a record its types cannot read, naming it", async () => {
    const j = await openJournal(ledgerOptions(path));
    await j.append("txn.open", { id: "a", amount: 5 });
    await j.close();
    const stricter = ledgerOptions(path);
    const types = {
      ...stricter.types,
      "txn.open": z.object({ id: z.string(), amount: z.number().min(10), note: z.string().optional() }),
    };
    const err = await openJournal({ ...stricter, types }).catch((e: unknown) => e);
    expect(isTermhostError(err, "JOURNAL_RECORD_INVALID")).toBe(true);
    expect((err as Error).message).toMatch(/seq 1 \(txn\.open\) at offset 16/);
  });

  it("compacts to a snapshot: closed transactions leave, state and sequence carry on", async () => {
    const j = await openJournal(ledgerOptions(path, { keepClosedIds: false, compactAtBytes: 0 }));
    for (let i = 0; i < 200; i++) {
      await j.appendMany([
        { type: "txn.open", body: { id: `t${i}`, amount: i } },
        ...(i % 10 === 0 ? [] : [{ type: "txn.close" as const, body: { id: `t${i}` } }]),
      ]);
    }
    const before = ledgerView(j.state);
    const bytesBefore = statSync(path).size;
    const report = await j.compact();
    expect(report).toMatchObject({ snapshotSeq: j.lastSeq, tailRecords: 0, bytesBefore });
    expect(statSync(path).size).toBe(report.bytesAfter);
    expect(report.bytesAfter).toBeLessThan(bytesBefore / 10);
    const { seq } = await j.append("txn.open", { id: "after", amount: 9 });
    expect(seq).toBe(report.snapshotSeq + 1);
    await j.close();

    const again = await openJournal(ledgerOptions(path, { keepClosedIds: false }));
    expect(again.recovery).toMatchObject({
      snapshotSeq: report.snapshotSeq,
      recordsReplayed: 1,
      lastSeq: seq,
    });
    expect(ledgerView(again.state)).toEqual({ ...before, open: [...before.open, ["after", 9]].sort() });
    await again.close();
  });

  it("loses nothing when compaction runs under 64 concurrent writers", async () => {
    const j = await openJournal(ledgerOptions(path, { compactAtBytes: 0 }));
    const acked = new Set<string>();
    let stop = false;
    const writer = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const id = `w${w}-${n}`;
        await j.append("txn.open", { id, amount: n });
        acked.add(id);
      }
    };
    const writers = Array.from({ length: 64 }, (_, w) => writer(w));
    const reports = [];
    for (let c = 0; c < 5; c++) {
      await new Promise((r) => setTimeout(r, 20));
      reports.push(await j.compact());
    }
    stop = true;
    await Promise.all(writers);
    expect(reports.some((r) => r.tailRecords > 0)).toBe(true);
    const live = ledgerView(j.state);
    await j.close();
    const again = await openJournal(ledgerOptions(path));
    expect(ledgerView(again.state)).toEqual(live);
    for (const id of acked) expect(again.state.open.has(id)).toBe(true);
    expect(again.state.open.size).toBe(acked.size);
    expect(again.lastSeq).toBe(acked.size);
    await again.close();
  });

  it("finishes a compaction that was running when close was called", async () => {
    const j = await openJournal(ledgerOptions(path, { compactAtBytes: 0 }));
    for (let i = 0; i < 10; i++) await j.append("txn.open", { id: `t${i}`, amount: i });
    const compaction = j.compact();
    const last = j.append("txn.open", { id: "last", amount: 1 });
    await j.close();
    await expect(compaction).resolves.toMatchObject({ snapshotSeq: 10 });
    await expect(last).resolves.toEqual({ seq: 11 });
    const again = await openJournal(ledgerOptions(path));
    expect(again.recovery).toMatchObject({ snapshotSeq: 10, lastSeq: 11 });
    expect(again.state.open.size).toBe(11);
    await again.close();
  });

  it("compacts by itself once the file passes the threshold", async () => {
    const events: string[] = [];
    const j = await openJournal(
      ledgerOptions(path, {
        compactAtBytes: 8 * 1024,
        onEvent: (e) => events.push(e.kind),
        keepClosedIds: false,
      }),
    );
    for (let i = 0; i < 300; i++) {
      await j.append("txn.open", { id: `t${i}`, amount: i });
      await j.append("txn.close", { id: `t${i}` });
    }
    await j.close();
    expect(events).toContain("compacted");
    expect(statSync(path).size).toBeLessThan(16 * 1024);
    const again = await openJournal(ledgerOptions(path, { keepClosedIds: false }));
    expect(again.state.closedCount).toBe(300);
    await again.close();
  });

  it("removes leftovers of an interrupted compaction and says so", async () => {
    const j = await openJournal(ledgerOptions(path));
    await j.append("txn.open", { id: "a", amount: 1 });
    await j.close();
    writeFileSync(`${path}.compact`, "half a compaction");
    const again = await openJournal(ledgerOptions(path));
    expect(again.recovery.removedLeftovers).toEqual([`${path}.compact`]);
    expect(again.state.open.get("a")).toBe(1);
    await again.close();
    expect(readFileSync(path).subarray(0, 8).toString()).toBe("TERMJRNL");
  });
});

/** Records of up to 1 MiB each, kept whole in the state: snapshots of several read chunks. */
const blobTypes = { blob: z.object({ n: z.number().int(), data: z.string().max(MAX_RECORD_BODY_BYTES) }) };
type Blob = z.output<typeof blobTypes.blob>;
function blobOptions(p: string) {
  return {
    path: p,
    types: blobTypes,
    initialState: (): Blob[] => [],
    reduce: (s: Blob[], r: { body: Blob }) => {
      s.push(r.body);
      return s;
    },
    snapshot: { schema: z.array(blobTypes.blob), save: (s: Blob[]) => s, load: (b: Blob[]) => b },
    compactAtBytes: 0,
  };
}
const blob = (n: number, length: number): Blob => ({
  n,
  data: String.fromCharCode(97 + (n % 26)).repeat(length),
});
const blobView = (s: Blob[]) => s.map((b) => [b.n, b.data.length, b.data[0]]);

describe("replay of frames larger than its read chunk (4 MiB)", () => {
  it("reopens a snapshot of several chunks and the records after it, which straddle chunk ends", async () => {
    const j = await openJournal(blobOptions(path));
    for (let n = 0; n < 6; n++) await j.append("blob", blob(n, 900_000));
    const report = await j.compact();
    expect(report.bytesAfter).toBeGreaterThan(5 * 1024 * 1024);
    // Odd sizes, so that frames end at no chunk boundary.
    for (let n = 6; n < 12; n++) await j.append("blob", blob(n, 999_983 - n * 7919));
    const live = blobView(j.state);
    await j.close();

    const again = await openJournal(blobOptions(path));
    expect(again.recovery).toMatchObject({
      snapshotSeq: 6,
      recordsReplayed: 6,
      lastSeq: 12,
      droppedTail: null,
    });
    expect(blobView(again.state)).toEqual(live);
    await again.close();
  });

  it("reopens a write larger than a chunk with a frame header across the chunk's end", async () => {
    // A frame of exactly `bytes` on disk.
    const sized = (n: number, bytes: number): Blob =>
      blob(n, bytes - FRAME_OVERHEAD - "blob".length - JSON.stringify({ n, data: "" }).length);
    // The first read takes 4 MiB from the first frame on; the fifth frame's header starts 10 bytes
    // before that read ends, so the replay must read twice more before it can check that frame.
    const first = 4 * 1024 * 1024 - 10;
    const sizes = [first - 3 * 1_048_574, 1_048_574, 1_048_574, 1_048_574];
    const bodies = [...sizes.map((b, n) => sized(n, b)), sized(4, 600_000)];
    const j = await openJournal(blobOptions(path));
    await j.appendMany(bodies.map((body) => ({ type: "blob" as const, body })));
    expect(j.size).toBe(FILE_HEADER_SIZE + first + 600_000);
    const live = blobView(j.state);
    await j.close();
    const again = await openJournal(blobOptions(path));
    expect(again.recovery).toMatchObject({ recordsReplayed: 5, lastSeq: 5, droppedTail: null });
    expect(blobView(again.state)).toEqual(live);
    await again.close();
  });
});
