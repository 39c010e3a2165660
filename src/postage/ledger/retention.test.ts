import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Registers } from "../protocol/index.js";
import { PostageLedger } from "./ledger.js";
import type { PieceSpec } from "./records.js";
import {
  batchOf,
  DEFAULT_RETENTION,
  emptyLedger,
  finishedIds,
  forgetFinished,
  KEEP_NEWEST,
  type LedgerRetention,
  ledgerReducer,
  ledgerSnapshotCodec,
} from "./state.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "ledger-retention-"));
  dirs.push(d);
  return join(d, "postage.journal");
}
const regs: Registers = {
  ascending: 0,
  descending: 1_000_000,
  controlTotal: 1_000_000,
  pieceCount: 0,
  batchCount: 0,
  batchValue: 0,
  serial: "PM1",
};
const piece: PieceSpec = { amount: 10, currency: "EUR", class: 1, origin: "10115" };
const bid = (n: number) => `b-${n.toString(16).padStart(16, "0")}`;
const DAY = 86_400_000;

async function openWith(path: string, retention: LedgerRetention): Promise<PostageLedger> {
  const ledger = await PostageLedger.open({ path, retention, compactAtBytes: 4096 });
  await ledger.synced("m", regs);
  return ledger;
}

/** Opens and closes batch n, its close stamped `closedAt`. */
async function finish(ledger: PostageLedger, n: number, closedAt: Date): Promise<void> {
  await ledger.reserve({
    batchId: bid(n),
    requestId: `r${n}`,
    meter: "m",
    currency: "EUR",
    pieces: [piece],
    onInsufficient: "reject",
  });
  await ledger.write([
    {
      type: "reservation.closed",
      body: { batchId: bid(n), outcome: "cancelled", released: 10, closedAt: closedAt.toISOString() },
    },
  ]);
}

/** A ledger state driven through the reducer alone: batch n opened and closed at `closedAt`. */
function inMemory(retention: LedgerRetention) {
  const reduce = ledgerReducer(retention);
  const state = emptyLedger();
  let seq = 0;
  const open = (n: number, at: number, pieces = 1) =>
    reduce(state, {
      type: "reservation.opened",
      seq: ++seq,
      body: {
        batchId: bid(n),
        requestId: `r${n}`,
        meter: "m",
        currency: "EUR",
        amount: 10 * pieces,
        pieces: Array.from({ length: pieces }, () => piece),
        requestedPieces: pieces,
        onInsufficient: "reject",
        openedAt: new Date(at).toISOString(),
      },
    });
  const finish = (n: number, closedAt: number, pieces = 1) => {
    open(n, closedAt, pieces);
    reduce(state, {
      type: "reservation.closed",
      seq: ++seq,
      body: {
        batchId: bid(n),
        outcome: "cancelled",
        released: 10 * pieces,
        closedAt: new Date(closedAt).toISOString(),
      },
    });
  };
  return { state, open, finish };
}

describe("finished batch retention", () => {
  it("keeps every batch closed within the window, across compactions and a reopen", async () => {
    const path = tmp();
    const ledger = await openWith(path, { days: 30, maxBatches: 5000, maxPieces: 100_000 });
    for (let n = 0; n < 3000; n++) await finish(ledger, n, new Date());
    await ledger.close();
    const again = await openWith(path, { days: 30, maxBatches: 5000, maxPieces: 100_000 });
    for (const n of [0, 1, 1500, 2999]) {
      expect(again.batch(bid(n))?.outcome).toBe("cancelled");
      expect(again.batchByRequest(`r${n}`)?.batchId).toBe(bid(n));
    }
    expect(finishedIds(again.state)).toHaveLength(3000);
    expect(again.state.finishedPieces).toBe(3000);
    await again.close();
  });

  it("forgets expired batches beyond the newest 2,048; a clock set wrong never empties the history", () => {
    const now = Date.now();
    const r = inMemory({ days: 30, maxBatches: 100_000, maxPieces: 1_000_000 });
    for (let n = 0; n < 100; n++) r.finish(n, now - 40 * DAY);
    for (let n = 100; n < 100 + KEEP_NEWEST; n++) r.finish(n, now - 20 * DAY);
    expect(batchOf(r.state, bid(99))).toBeUndefined();
    expect(r.state.batchByRequest.has("r99")).toBe(false);
    expect(batchOf(r.state, bid(100))?.outcome).toBe("cancelled");
    expect(finishedIds(r.state)).toHaveLength(KEEP_NEWEST);
    const wrongClock = inMemory({ days: 30, maxBatches: 100_000, maxPieces: 1_000_000 });
    for (let n = 0; n < 3000; n++) wrongClock.finish(n, now - 400 * DAY);
    expect(finishedIds(wrongClock.state)).toHaveLength(KEEP_NEWEST);
    expect(batchOf(wrongClock.state, bid(2999))?.outcome).toBe("cancelled");
  });

  it("forgets the oldest past the count cap, and past the pieces cap", () => {
    const byCount = inMemory({ days: 30, maxBatches: 100, maxPieces: 1_000_000 });
    for (let n = 0; n < 200; n++) byCount.finish(n, Date.now());
    expect(finishedIds(byCount.state)).toEqual(Array.from({ length: 100 }, (_, i) => bid(100 + i)));
    const byPieces = inMemory({ days: 30, maxBatches: 100_000, maxPieces: 1000 });
    for (let n = 0; n < 200; n++) byPieces.finish(n, Date.now(), 30);
    // 33 batches of 30 pieces fit in 1,000.
    expect(finishedIds(byPieces.state)).toHaveLength(33);
    expect(byPieces.state.finishedPieces).toBe(990);
    expect(batchOf(byPieces.state, bid(167))?.outcome).toBe("cancelled");
    expect(batchOf(byPieces.state, bid(166))).toBeUndefined();
  });

  it("an open batch is never forgotten, however old and however many close after it", () => {
    const r = inMemory({ days: 1, maxBatches: 100, maxPieces: 1000 });
    const old = Date.now() - 400 * DAY;
    r.open(0, old);
    for (let n = 1; n <= 150; n++) r.finish(n, old);
    expect(batchOf(r.state, bid(0))?.outcome).toBeNull();
    expect(finishedIds(r.state)).toHaveLength(100);
    expect(finishedIds(r.state)[0]).toBe(bid(51));
  });

  it("keeps a batch whose close was journaled without closedAt, counting from its opening", async () => {
    const path = tmp();
    const ledger = await openWith(path, DEFAULT_RETENTION);
    await ledger.reserve({
      batchId: bid(1),
      requestId: "r1",
      meter: "m",
      currency: "EUR",
      pieces: [piece],
      onInsufficient: "reject",
    });
    await ledger.write([
      { type: "reservation.closed", body: { batchId: bid(1), outcome: "completed", released: 10 } },
    ]);
    await ledger.close();
    const again = await openWith(path, DEFAULT_RETENTION);
    const batch = again.batchByRequest("r1");
    expect(batch?.outcome).toBe("completed");
    expect(batch?.closedAt).toBe(batch?.openedAt);
    await again.close();
  });

  it("loads a snapshot written before closedAt was kept, counting from the batch's opening", () => {
    const openedAt = new Date().toISOString();
    const state = ledgerSnapshotCodec.load(
      ledgerSnapshotCodec.schema.parse({
        meters: [],
        batches: [
          {
            batchId: bid(7),
            requestId: "r7",
            meter: "m",
            currency: "EUR",
            pieces: [piece],
            requestedPieces: 1,
            onInsufficient: "reject",
            openedAt,
            reserved: 10,
            remaining: 0,
            indicia: [],
            pending: null,
            voided: 0,
            outcome: "completed",
            released: 10,
            reason: null,
          },
        ],
        finished: [`b:${bid(7)}`],
      }),
    );
    expect(finishedIds(state)).toEqual([bid(7)]);
    expect(batchOf(state, bid(7))?.closedAt).toBe(openedAt);
    forgetFinished(state, DEFAULT_RETENTION, Date.now());
    expect(state.batchByRequest.get("r7")).toBe(bid(7));
  });
});
