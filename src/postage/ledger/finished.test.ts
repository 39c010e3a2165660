import { describe, expect, it } from "vitest";
import type { PieceSpec } from "./records.js";
import {
  batchOf,
  batchOfRequest,
  emptyLedger,
  finishedIds,
  type LedgerRecord,
  type LedgerState,
  ledgerReducer,
  ledgerSnapshotCodec,
  openBatches,
  reservedOn,
} from "./state.js";

const piece: PieceSpec = { amount: 10, currency: "EUR", class: 1, origin: "10115" };
const bid = (n: number) => `b-${n.toString(16).padStart(16, "0")}`;
const txn = (n: number, k: number) =>
  `${n.toString(16).padStart(16, "0")}${k.toString(16).padStart(16, "0")}`;

function ledger(retention = { days: 30, maxBatches: 1000, maxPieces: 10_000 }) {
  const reduce = ledgerReducer(retention);
  const state = emptyLedger();
  let seq = 0;
  const apply = (r: Omit<LedgerRecord, "seq">) => reduce(state, { ...r, seq: ++seq } as LedgerRecord);
  apply({
    type: "meter.synced",
    body: {
      meter: "m",
      serial: "PM1",
      ascending: 0,
      descending: 100_000,
      controlTotal: 100_000,
      pieceCount: 0,
    },
  });
  let sequence = 0;
  const open = (n: number, pieces = 2, requestId = `r${n}`) =>
    apply({
      type: "reservation.opened",
      body: {
        batchId: bid(n),
        requestId,
        meter: "m",
        currency: "EUR",
        amount: 10 * pieces,
        pieces: Array.from({ length: pieces }, () => piece),
        requestedPieces: pieces,
        onInsufficient: "reject",
        openedAt: new Date().toISOString(),
      },
    });
  const print = (n: number, k: number) =>
    apply({
      type: "indicium.printed",
      body: {
        batchId: bid(n),
        pieceIndex: k,
        txnId: txn(n, k),
        amount: 10,
        sequence: ++sequence,
        descendingAfter: 100_000 - 10 * sequence,
        date: "2026-12-04",
        mac: "0123456789abcdef",
      },
    });
  const close = (n: number, reason?: string) =>
    apply({
      type: "reservation.closed",
      body: {
        batchId: bid(n),
        outcome: "completed",
        released: 0,
        closedAt: new Date().toISOString(),
        ...(reason === undefined ? {} : { reason }),
      },
    });
  return { state, apply, open, print, close };
}

const reload = (s: LedgerState): LedgerState =>
  ledgerSnapshotCodec.load(
    ledgerSnapshotCodec.schema.parse(JSON.parse(JSON.stringify(ledgerSnapshotCodec.save(s)))),
  );

describe("finished batches", () => {
  it("move from the open batches to the finished store at their close, and answer the same", () => {
    const l = ledger();
    l.open(1);
    l.print(1, 0);
    const live = batchOf(l.state, bid(1));
    expect(reservedOn(l.state, "m")).toBe(10);
    l.close(1, "done early");
    expect(l.state.open.has(bid(1))).toBe(false);
    expect(finishedIds(l.state)).toEqual([bid(1)]);
    expect(l.state.finishedPieces).toBe(2);
    expect(batchOf(l.state, bid(1))).toEqual({
      ...live,
      outcome: "completed",
      released: 10,
      remaining: 0,
      reason: "done early",
      closedAt: expect.any(String),
    });
    expect(batchOfRequest(l.state, "r1")?.batchId).toBe(bid(1));
    expect(reservedOn(l.state, "m")).toBe(0);
    // A second opening of a finished batch's id changes nothing.
    l.open(1, 5);
    expect([...openBatches(l.state)]).toEqual([]);
    expect(batchOf(l.state, bid(1))?.pieces).toHaveLength(2);
  });

  it("an indicium journaled after its batch's close is kept, the batch in its place", () => {
    const l = ledger();
    for (const n of [1, 2]) {
      l.open(n);
      l.close(n);
    }
    l.print(1, 1);
    l.print(1, 1);
    expect(batchOf(l.state, bid(1))?.indicia.map((i) => i.txnId)).toEqual([txn(1, 1)]);
    expect(l.state.meters.get("m")?.pieceCount).toBe(1);
    expect(finishedIds(l.state)).toEqual([bid(1), bid(2)]);
  });

  it("snapshot: open batches whole, finished ones as rows, loaded back to the same state", () => {
    const l = ledger();
    for (let n = 0; n < 10; n++) {
      l.open(n);
      l.print(n, 0);
      if (n % 3 !== 0) l.close(n);
    }
    const snap = ledgerSnapshotCodec.save(l.state);
    expect("open" in snap && snap.open.map((b) => b.batchId)).toEqual([bid(0), bid(3), bid(6), bid(9)]);
    const again = reload(l.state);
    expect(finishedIds(again)).toEqual(finishedIds(l.state));
    expect(again.finishedPieces).toBe(12);
    expect([...again.batchByRequest]).toEqual(expect.arrayContaining([...l.state.batchByRequest]));
    expect(again.batchByRequest.size).toBe(10);
    for (let n = 0; n < 10; n++) expect(batchOf(again, bid(n))).toEqual(batchOf(l.state, bid(n)));
    expect(reservedOn(again, "m")).toBe(reservedOn(l.state, "m"));
    expect(reload(again)).toEqual(again);
  });

  it("a finished row that does not decode loads, and is refused with a typed error when read", () => {
    const l = ledger();
    for (const n of [1, 2]) {
      l.open(n);
      l.close(n);
    }
    const snap = JSON.parse(JSON.stringify(ledgerSnapshotCodec.save(l.state))) as { finished: unknown[][] };
    (snap.finished[0] as unknown[])[4] = '["b-0000000000000001"]';
    const state = ledgerSnapshotCodec.load(ledgerSnapshotCodec.schema.parse(snap));
    expect(finishedIds(state)).toEqual([bid(1), bid(2)]);
    expect(state.batchByRequest.get("r1")).toBe(bid(1));
    expect(() => batchOf(state, bid(1))).toThrow(expect.objectContaining({ code: "JOURNAL_RECORD_INVALID" }));
    expect(batchOf(state, bid(2))?.outcome).toBe("completed");
  });

  it("forgetting a batch leaves its request id to a newer batch that took it", () => {
    const l = ledger({ days: 30, maxBatches: 1, maxPieces: 10_000 });
    l.open(1, 2, "same");
    l.close(1);
    l.open(2, 2, "same");
    l.close(2);
    expect(finishedIds(l.state)).toEqual([bid(2)]);
    expect(batchOfRequest(l.state, "same")?.batchId).toBe(bid(2));
    expect(l.state.finishedPieces).toBe(2);
  });

  it("forgets in closing order through long runs, a reopen between, with pieces accounted", () => {
    const l = ledger({ days: 30, maxBatches: 3000, maxPieces: 1_000_000 });
    for (let n = 0; n < 5000; n++) {
      l.open(n, 1 + (n % 3));
      l.close(n);
    }
    const again = reload(l.state);
    const ids = finishedIds(again);
    expect(ids).toHaveLength(3000);
    expect(ids[0]).toBe(bid(2000));
    expect(ids.at(-1)).toBe(bid(4999));
    const pieces = Array.from({ length: 3000 }, (_, i) => 1 + ((2000 + i) % 3)).reduce((a, b) => a + b, 0);
    expect(again.finishedPieces).toBe(pieces);
    expect(again.batchByRequest.size).toBe(3000);
  });

  it("a snapshot of every batch whole (the format before) loads: unlisted closed ones first", () => {
    const l = ledger();
    for (const n of [1, 2, 3]) {
      l.open(n);
      if (n !== 3) l.close(n);
    }
    const whole = {
      meters: [...l.state.meters],
      batches: [batchOf(l.state, bid(1)), batchOf(l.state, bid(2)), batchOf(l.state, bid(3))],
      finished: [`b:${bid(2)}`, bid(9)],
    };
    const state = ledgerSnapshotCodec.load(ledgerSnapshotCodec.schema.parse(whole));
    expect(finishedIds(state)).toEqual([bid(1), bid(2)]);
    expect([...openBatches(state)].map((b) => b.batchId)).toEqual([bid(3)]);
    expect(state.finishedPieces).toBe(4);
    expect(batchOfRequest(state, "r1")?.outcome).toBe("completed");
  });
});
