/**
 * Recovery against every torn and every flipped byte of the last writes of a journal: a torn
 * tail is dropped and reported, damage before the tail stops the open with the salvage command.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import { openJournal } from "../../src/journal/index.js";
import { type Ledger, ledgerOptions, ledgerView } from "../support/journal/ledger.js";

let dir: string;
let image: Buffer;
/** File offsets where each write starts and ends, and the frames' start offsets. */
const writes: { start: number; end: number; frames: number[] }[] = [];
/** Ledger view after each write. */
const views: ReturnType<typeof ledgerView>[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "journal-damage-"));
  const j = await openJournal(ledgerOptions(join(dir, "source")));
  views.push(ledgerView(j.state));
  const record = (start: number, sizes: number[]) => {
    const frames: number[] = [];
    let at = start;
    for (const s of sizes) {
      frames.push(at);
      at += s;
    }
    writes.push({ start, end: j.size, frames });
    views.push(ledgerView(j.state));
  };
  for (let i = 0; i < 10; i++) {
    const start = j.size;
    await j.append("txn.open", { id: `t${i}`, amount: 100 + i });
    record(start, [j.size - start]);
  }
  const start = j.size;
  const many = [
    { type: "txn.open" as const, body: { id: "m1", amount: 1 } },
    { type: "txn.open" as const, body: { id: "m2", amount: 22 } },
    { type: "txn.close" as const, body: { id: "t3" } },
  ];
  await j.appendMany(many);
  // Frame sizes inside one write: 28 bytes of framing + type + JSON body.
  const sizes = many.map((m) => 28 + m.type.length + Buffer.byteLength(JSON.stringify(m.body)));
  record(start, sizes);
  const last = j.size;
  await j.append("txn.open", { id: "last", amount: 7 });
  record(last, [j.size - last]);
  await j.close();
  image = readFileSync(join(dir, "source"));
  expect(writes.at(-1)?.end).toBe(image.length);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function openBytes(bytes: Buffer, name: string) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return openJournal(ledgerOptions(path));
}

/** Index of the last write wholly inside the first `len` bytes; -1 for none. */
function lastWholeWrite(len: number): number {
  let k = -1;
  writes.forEach((w, i) => {
    if (w.end <= len) k = i;
  });
  return k;
}

function viewAfter(writeIndex: number) {
  return views[writeIndex + 1];
}

describe("recovery of a torn tail", () => {
  it("drops and reports a tail cut at every offset of the last three writes", async () => {
    const from = writes.at(-3)?.start as number;
    let cases = 0;
    for (let len = from; len < image.length; len++) {
      const j = await openBytes(image.subarray(0, len), "cut");
      const k = lastWholeWrite(len);
      const keptEnd = writes[k]?.end as number;
      expect(ledgerView(j.state as Ledger), `cut at ${len}`).toEqual(viewAfter(k));
      const keptSeq = k === 10 ? 13 : k + 1;
      expect(j.lastSeq).toBe(keptSeq);
      if (len === keptEnd) {
        expect(j.recovery.droppedTail).toBeNull();
      } else {
        const d = j.recovery.droppedTail;
        expect(d, `cut at ${len}`).toMatchObject({ offset: keptEnd, bytes: len - keptEnd });
        expect(["short-frame", "incomplete-write"]).toContain(d?.reason);
        expect(readFileSync(d?.savedTo as string)).toEqual(image.subarray(keptEnd, len));
      }
      // The file was cut back, so the next append lands right after the kept data and survives.
      const { seq } = await j.append("txn.open", { id: "next", amount: 1 });
      expect(seq).toBe(keptSeq + 1);
      await j.close();
      const again = await openJournal(ledgerOptions(join(dir, "cut")));
      expect(again.recovery.droppedTail).toBeNull();
      expect(again.state.open.get("next")).toBe(1);
      await again.close();
      cases++;
    }
    expect(cases).toBeGreaterThan(200);
  });

  it("flips a bit at every offset of the last three writes: tail dropped, earlier damage refused", async () => {
    const from = writes.at(-3)?.start as number;
    const lastWrite = writes.at(-1) as { start: number };
    for (let at = from; at < image.length; at++) {
      const bytes = Buffer.from(image);
      bytes[at] = (bytes[at] as number) ^ (1 << (at % 8));
      const result = await openBytes(bytes, "flip").catch((e: unknown) => e);
      if (at >= lastWrite.start) {
        expect(isTermhostError(result), `flip at ${at}: ${String(result)}`).toBe(false);
        const j = result as Awaited<ReturnType<typeof openBytes>>;
        expect(j.recovery.droppedTail, `flip at ${at}`).toMatchObject({
          offset: lastWrite.start,
          bytes: image.length - lastWrite.start,
          damageAt: lastWrite.start,
        });
        expect(ledgerView(j.state)).toEqual(viewAfter(writes.length - 2));
        await j.close();
      } else {
        const frameStart = Math.max(...writes.flatMap((w) => w.frames).filter((f) => f <= at));
        expect(isTermhostError(result, "JOURNAL_CORRUPT"), `flip at ${at}: ${String(result)}`).toBe(true);
        const err = result as { message: string; hint: string; context: Record<string, unknown> };
        expect(err.context.offset, `flip at ${at}`).toBe(frameStart);
        expect(err.message).toContain(`offset ${frameStart}`);
        expect(err.hint).toContain(`termhost journal salvage ${join(dir, "flip")}`);
        // Refusing must leave the file exactly as it was.
        expect(readFileSync(join(dir, "flip"))).toEqual(bytes);
      }
    }
  });

  it("drops a torn group write whose later frames reached the disk before its first", async () => {
    const w = writes.at(-2) as { start: number; end: number; frames: number[] };
    const bytes = Buffer.from(image.subarray(0, w.end));
    bytes.fill(0, w.start, (w.frames[1] as number) - 3);
    const j = await openBytes(bytes, "reordered");
    expect(j.recovery.droppedTail).toMatchObject({
      offset: w.start,
      damageAt: w.start,
      bytes: w.end - w.start,
    });
    expect(ledgerView(j.state)).toEqual(viewAfter(writes.length - 3));
    await j.close();
  });

  it("drops a zero-filled tail left by a file size that outran its data", async () => {
    const j = await openBytes(Buffer.concat([image, Buffer.alloc(4096)]), "zeros");
    expect(j.recovery.droppedTail).toMatchObject({ offset: image.length, bytes: 4096, reason: "bad-magic" });
    expect(ledgerView(j.state)).toEqual(views.at(-1));
    await j.close();
  });

  it("drops an intact frame that repeats an old sequence number at the end", async () => {
    const w = writes.at(-1) as { start: number; end: number };
    const j = await openBytes(Buffer.concat([image, image.subarray(w.start, w.end)]), "repeat");
    expect(j.recovery.droppedTail).toMatchObject({ offset: image.length, reason: "bad-sequence" });
    expect(ledgerView(j.state)).toEqual(views.at(-1));
    await j.close();
  });

  it("refuses damage in the middle of a long file and names a later intact record", async () => {
    const w = writes[4] as { start: number; end: number };
    const bytes = Buffer.from(image);
    bytes.fill(0, w.start + 5, w.end);
    const err = await openBytes(bytes, "middle").catch((e: unknown) => e);
    expect(isTermhostError(err, "JOURNAL_CORRUPT")).toBe(true);
    expect((err as { context: object }).context).toMatchObject({
      offset: w.start,
      laterFrameAt: w.end,
      validPrefixBytes: w.start,
      lastIntactSeq: 4,
    });
  });

  it("refuses a damaged file header", async () => {
    const bytes = Buffer.from(image);
    bytes[3] = 0;
    await expect(openBytes(bytes, "header")).rejects.toMatchObject({
      code: "JOURNAL_CORRUPT",
      context: { offset: 0 },
    });
  });
});
