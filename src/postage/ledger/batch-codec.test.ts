import { describe, expect, it } from "vitest";
import { batchCodec } from "./batch-codec.js";
import { BatchEntry } from "./batch-entry.js";

const at = "2026-12-04T09:00:00.000Z";
const later = "2026-12-04T09:05:00.000Z";
const piece = { amount: 85, currency: "EUR", class: 1, origin: "10115" };
const indicium = (i: number) => ({
  pieceIndex: i,
  txnId: `${i}`.padStart(32, "a"),
  amount: 85,
  sequence: 100 + i,
  date: "2026-12-04",
  mac: "0123456789abcdef",
});
const finished: BatchEntry = {
  batchId: "b-00000000000000ff",
  requestId: "kiosk-1",
  meter: "m1",
  currency: "EUR",
  pieces: [piece, piece],
  requestedPieces: 2,
  onInsufficient: "reject",
  openedAt: at,
  reserved: 170,
  remaining: 0,
  indicia: [indicium(0), indicium(1)],
  pending: null,
  voided: 0,
  unresolved: [],
  outcome: "completed",
  released: 0,
  reason: null,
  closedAt: later,
};
const roundTrip = (b: BatchEntry) => batchCodec.decode(batchCodec.encode(b), b.batchId);

describe("finished batch codec", () => {
  it("round-trips a completed batch as a positional array, its defaults left off", () => {
    const s = batchCodec.encode(finished);
    expect(roundTrip(finished)).toEqual(finished);
    const a = JSON.parse(s) as unknown[];
    expect(a).toHaveLength(14);
    expect(s).not.toContain("batchId");
    expect(s).not.toContain('"EUR",1');
    expect(a[9]).toBe(170);
    // A third or less of the object's JSON, and the object's JSON is not what it costs in memory.
    expect(s.length).toBeLessThan(JSON.stringify(finished).length * 0.55);
  });

  it("round-trips unresolved intents, voids, a release and a reason", () => {
    const b: BatchEntry = {
      ...finished,
      indicia: [indicium(0)],
      voided: 2,
      unresolved: [{ pieceIndex: 1, txnId: "b".repeat(32), amount: 85, reason: "meter refused the resend" }],
      outcome: "interrupted",
      released: 85,
      reason: "daemon restarted",
    };
    expect(roundTrip(b)).toEqual(b);
    const onlyReason = { ...finished, reason: "cancelled by the client", outcome: "cancelled" as const };
    expect(roundTrip(onlyReason)).toEqual(onlyReason);
    const onlyVoided = { ...finished, voided: 1 };
    expect(roundTrip(onlyVoided)).toEqual(onlyVoided);
  });

  it("round-trips a null closedAt (snapshots before it was kept), a pending intent and an open batch", () => {
    const legacy = { ...finished, closedAt: null };
    expect(roundTrip(legacy).closedAt).toBeNull();
    expect(roundTrip(legacy)).toEqual(legacy);
    const open: BatchEntry = {
      ...finished,
      outcome: null,
      remaining: 85,
      indicia: [indicium(0)],
      closedAt: null,
      pending: {
        pieceIndex: 1,
        request: { txnId: "c".repeat(32), amount: 85, date: "2026-12-04", mailClass: 1, origin: "10115" },
      },
    };
    expect(roundTrip(open)).toEqual(open);
  });

  it("keeps an indicium's own date and amount", () => {
    const b: BatchEntry = {
      ...finished,
      pieces: [piece, { ...piece, amount: 120 }, piece],
      indicia: [
        indicium(0),
        { ...indicium(1), amount: 95 },
        { ...indicium(2), date: "2026-12-05" },
        { ...indicium(3), date: "2026-12-05", amount: 1 },
        { ...indicium(4), date: "2026-12-04" },
        { ...indicium(5), pieceIndex: 9 },
      ],
    };
    expect(roundTrip(b)).toEqual(b);
  });

  it("keeps a piece's own currency and destination", () => {
    const b: BatchEntry = {
      ...finished,
      pieces: [
        { ...piece, destination: "75001" },
        { ...piece, currency: "CHF" },
        { ...piece, currency: "CHF", destination: "8001" },
        piece,
      ],
    };
    const back = roundTrip(b);
    expect(back).toEqual(b);
    expect(Object.hasOwn(back.pieces[1] as object, "destination")).toBe(false);
  });

  it("refuses what is not one of its encodings with a typed error", () => {
    for (const bad of [
      "{",
      "{}",
      "[]",
      '["b-1"]',
      batchCodec.encode(finished).replace('"completed"', '"lost"'),
    ]) {
      expect(() => batchCodec.decode(bad, "b-1")).toThrow(
        expect.objectContaining({ code: "JOURNAL_RECORD_INVALID" }),
      );
    }
    const noPieces = JSON.parse(batchCodec.encode(finished)) as unknown[];
    noPieces[12] = [[0, 1]];
    expect(() => batchCodec.decode(JSON.stringify(noPieces), "b-1")).toThrow(/pieces\.0/);
  });

  it("decodes to what the schema accepts, nothing more", () => {
    const back = roundTrip(finished);
    expect(BatchEntry.parse(back)).toEqual(back);
  });
});
