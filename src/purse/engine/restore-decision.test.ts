import { describe, expect, it } from "vitest";
import type { ValueTx } from "../../value/records.js";
import type { TransactionRecord } from "../messages/index.js";
import { decideRestore } from "./restore-decision.js";

const TERMINAL = "5445524d30303031";
const S2 = "0102030405060708";

function load(counter: number): ValueTx {
  return {
    txId: "vtx-1",
    requestId: "r-1",
    kind: "load",
    reader: "r",
    amount: 500,
    currency: 978,
    phase: "authorized",
    cardId: "c0c0c0c0c0c00001",
    counter,
    balanceBefore: 1000,
    authorizerRef: null,
    authorizationId: 7,
    message: { counter, amount: 500, currency: 978, terminalId: TERMINAL, s2: S2 },
    balanceAfter: null,
    proof: null,
    restored: null,
    error: null,
    reversal: null,
    reversalRefused: null,
    unresolved: null,
    createdAt: "2026-12-02T00:00:00.000Z",
    updatedAt: "2026-12-02T00:00:00.000Z",
  };
}

function record(counter: number, o: Partial<TransactionRecord> = {}): TransactionRecord {
  return {
    type: "debit",
    counter,
    amount: 1,
    currency: 978,
    balanceAfter: 999,
    terminalId: Buffer.from("9945524d30303031", "hex"),
    s2: Buffer.alloc(8),
    proof: Buffer.alloc(8, 0xaa),
    ...o,
  };
}

describe("decideRestore: the card's one last transaction against the stored message", () => {
  const card = (counter: number, last: TransactionRecord | null) => ({
    cardId: "c0c0c0c0c0c00001",
    counter,
    last,
  });

  it("our credit as the last transaction is applied", () => {
    const ours = record(5, {
      type: "credit",
      amount: 500,
      terminalId: Buffer.from(TERMINAL, "hex"),
      s2: Buffer.from(S2, "hex"),
      balanceAfter: 1500,
    });
    expect(decideRestore(load(5), card(6, ours))).toMatchObject({ kind: "applied", balanceAfter: 1500 });
  });

  it("a card still at our counter takes the message again", () => {
    expect(decideRestore(load(5), card(5, record(4)))).toEqual({ kind: "resend" });
  });

  it("our counter spent on another transaction (counter + 1): ours can never land", () => {
    expect(decideRestore(load(5), card(6, record(5)))).toMatchObject({ kind: "stale" });
  });

  it("two or more further on, the last transaction is not ours to judge by: ambiguous, not stale", () => {
    expect(decideRestore(load(5), card(7, record(6)))).toMatchObject({ kind: "ambiguous" });
    expect(decideRestore(load(5), card(40, record(39)))).toMatchObject({ kind: "ambiguous" });
  });

  it("a card behind our counter cannot take it either", () => {
    expect(decideRestore(load(5), card(4, record(3)))).toMatchObject({ kind: "stale" });
  });

  it("another card is not decided on", () => {
    expect(decideRestore(load(5), { ...card(6, null), cardId: "c0c0c0c0c0c00002" })).toEqual({
      kind: "other-card",
    });
  });
});
