import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Registers } from "../protocol/index.js";
import { PostageLedger } from "./ledger.js";
import type { PieceSpec } from "./records.js";
import {
  emptyLedger,
  forgetFinished,
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

describe("finished batch retention", () => {
  it("keeps every batch closed within the window, across compactions and a reopen", async () => {
    const path = tmp();
    const ledger = await openWith(path, { days: 30, max: 5000 });
    for (let n = 0; n < 3000; n++) await finish(ledger, n, new Date());
    await ledger.close();
    const again = await openWith(path, { days: 30, max: 5000 });
    for (const n of [0, 1, 1500, 2999]) {
      expect(again.batch(bid(n))?.outcome).toBe("cancelled");
      expect(again.batchByRequest(`r${n}`)?.batchId).toBe(bid(n));
    }
    expect(again.state.finished).toHaveLength(3000);
    await again.close();
  });

  it("forgets batches closed longer ago than the window, and the oldest past the count cap", async () => {
    const path = tmp();
    const ledger = await openWith(path, { days: 30, max: 100 });
    const now = Date.now();
    for (let n = 0; n < 10; n++) await finish(ledger, n, new Date(now - 40 * DAY));
    for (let n = 10; n < 20; n++) await finish(ledger, n, new Date(now - 20 * DAY));
    expect(ledger.batch(bid(9))).toBeUndefined();
    expect(ledger.batchByRequest("r9")).toBeUndefined();
    expect(ledger.batch(bid(10))?.outcome).toBe("cancelled");
    for (let n = 20; n < 200; n++) await finish(ledger, n, new Date(now));
    expect(ledger.state.finished).toHaveLength(100);
    expect(ledger.batch(bid(99))).toBeUndefined();
    expect(ledger.batch(bid(100))?.outcome).toBe("cancelled");
    await ledger.close();
  });

  it("an open batch is never forgotten, however old and however many close after it", () => {
    const reduce = ledgerReducer({ days: 1, max: 1 });
    const state = emptyLedger();
    let seq = 0;
    const open = (n: number) =>
      reduce(state, {
        type: "reservation.opened",
        seq: ++seq,
        body: {
          batchId: bid(n),
          requestId: `r${n}`,
          meter: "m",
          currency: "EUR",
          amount: 10,
          pieces: [piece],
          requestedPieces: 1,
          onInsufficient: "reject",
          openedAt: new Date(0).toISOString(),
        },
      });
    open(1);
    for (let n = 2; n <= 5; n++) {
      open(n);
      reduce(state, {
        type: "reservation.closed",
        seq: ++seq,
        body: { batchId: bid(n), outcome: "cancelled", released: 10, closedAt: new Date().toISOString() },
      });
    }
    expect(state.batches.get(bid(1))?.outcome).toBeNull();
    expect(state.finished).toEqual([bid(5)]);
    expect([...state.batches.keys()]).toEqual([bid(1), bid(5)]);
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
    expect(state.finished).toEqual([bid(7)]);
    expect(state.batches.get(bid(7))?.closedAt).toBe(openedAt);
    forgetFinished(state, { days: 30, max: 100 }, Date.now());
    expect(state.batchByRequest.get("r7")).toBe(bid(7));
  });
});
