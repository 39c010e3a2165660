import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { closedRequestId, closedUpdatedMs, decodeClosedTx, encodeClosedTx } from "./closed-codec.js";
import type { ValueTx } from "./records.js";

const base: ValueTx = {
  txId: "vtx-1",
  requestId: "kiosk-1",
  kind: "load",
  reader: "Virtual PCD 00 00",
  amount: 500,
  currency: 978,
  phase: "applied",
  cardId: "0400000000001388",
  counter: 7,
  balanceBefore: 100,
  authorizerRef: null,
  authorizationId: 12,
  message: { counter: 7, amount: 500, currency: 978, terminalId: "0011223344556677", s2: "00000000000186a0" },
  balanceAfter: 600,
  proof: "0000000bc5b6e6e0",
  restored: "resent",
  error: null,
  reversal: null,
  reversalRefused: null,
  unresolved: null,
  createdAt: "2026-12-04T01:00:00.000Z",
  updatedAt: "2026-12-04T01:00:02.250Z",
};

const shapes: Record<string, ValueTx> = {
  "an applied load": base,
  "a debit without s2": {
    ...base,
    kind: "debit",
    authorizationId: null,
    message: { counter: 7, amount: 500, currency: 978, terminalId: "0011223344556677" },
    restored: null,
  },
  "a load whose message differs from the request": {
    ...base,
    message: { counter: 8, amount: 499, currency: 840, terminalId: "0011223344556677" },
  },
  "a refill": {
    ...base,
    kind: "refill",
    cardId: "PM-100.7",
    message: {
      txnId: "00".repeat(16),
      amount: 500,
      nextInspection: "2027-01-31",
      authorization: "ab".repeat(16),
    },
    proof: "cd".repeat(16),
    restored: "already-applied",
  },
  "a failed one with a refused reversal": {
    ...base,
    phase: "failed",
    authorizerRef: "issuer-session_1",
    balanceAfter: null,
    proof: null,
    restored: null,
    error: { code: "CARD_REMOVED", message: 'pulled "mid-write", \\ and, then' },
    reversal: { authorizationId: 12, reported: false },
    reversalRefused: { code: "VALUE_REFUSED", message: "held as applied" },
  },
  "an unresolved one written off, with odd times and ids": {
    ...base,
    requestId: 'r"1\\,2\n',
    phase: "unresolved",
    unresolved: { reason: "written-off", message: "technician: card lost" },
    createdAt: "2026-04-31T01:00:00.000Z",
    updatedAt: '2026-12-04T01:00:00+01:00 "local"',
  },
  "one that never got past its request": {
    ...base,
    phase: "failed",
    cardId: null,
    counter: null,
    balanceBefore: null,
    authorizationId: null,
    message: null,
    balanceAfter: null,
    proof: null,
    restored: null,
    error: { code: "CARD_ABSENT", message: "no card" },
  },
};

describe("a closed transaction's compact form", () => {
  for (const [name, tx] of Object.entries(shapes)) {
    it(`gives back ${name} as it was, and its request id and time without decoding`, () => {
      const encoded = encodeClosedTx(tx);
      expect(decodeClosedTx(encoded, tx.txId)).toEqual(tx);
      expect(closedRequestId(encoded)).toBe(tx.requestId);
      const ms = closedUpdatedMs(encoded);
      if (Number.isNaN(Date.parse(tx.updatedAt))) expect(ms).toBeNaN();
      else expect(ms).toBe(Date.parse(tx.updatedAt));
    });
  }

  it("keeps times the calendar does not have as they were written", () => {
    for (const t of [
      "2026-02-29T00:00:00.000Z",
      "2026-12-01T24:00:00.000Z",
      "2026-12-04 01:00",
      "+002026-12-01T00:00:00.000Z",
    ]) {
      const tx = { ...base, createdAt: t, updatedAt: "2026-12-04T01:00:02.250Z" };
      expect(decodeClosedTx(encodeClosedTx(tx), tx.txId).createdAt).toBe(t);
    }
  });

  it("is far smaller than the transaction's JSON", () => {
    expect(encodeClosedTx(base).length).toBeLessThan(JSON.stringify(base).length / 2);
  });

  it("refuses what is not one of its encodings with JOURNAL_CORRUPT", () => {
    for (const bad of ["", "{}", "[1,2", `[1,"r",1,0,"x",-5,978,4]`, `[1,"r",1,9,"x",5,978,4]`]) {
      let caught: unknown;
      try {
        decodeClosedTx(bad, "vtx-bad");
      } catch (e) {
        caught = e;
      }
      expect(isTermhostError(caught, "JOURNAL_CORRUPT"), bad).toBe(true);
    }
  });
});
