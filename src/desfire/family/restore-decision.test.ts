import { describe, expect, it } from "vitest";
import type { ValueTx } from "../../value/records.js";
import type { LogEntry } from "./card-ops.js";
import { debitReference } from "./references.js";
import { decideDesfireRestore, entryOf } from "./restore-decision.js";

const TERMINAL = "5445524d30303031";
const S2 = "0102030405060708";
const CARD = "df04112233445566";

function tx(kind: "load" | "debit", counter: number): ValueTx {
  return {
    txId: "vtx-1",
    requestId: "r-1",
    kind,
    reader: "r",
    amount: 500,
    currency: 978,
    phase: kind === "load" ? "authorized" : "debiting",
    cardId: CARD,
    counter,
    balanceBefore: 1000,
    authorizerRef: null,
    authorizationId: kind === "load" ? 7 : null,
    message:
      kind === "load"
        ? { counter, amount: 500, currency: 978, terminalId: TERMINAL, s2: S2 }
        : { counter, amount: 500, currency: 978, terminalId: TERMINAL },
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

function other(seq: number): LogEntry {
  return {
    seq,
    kind: "debit",
    amount: 1,
    currency: 978,
    balanceAfter: 999,
    terminalId: Buffer.from("4f54484552303032", "hex"),
    authMac: Buffer.alloc(8, 0xaa),
  };
}

const ours = (t: ValueTx): LogEntry => entryOf(t) as LogEntry;

describe("decideDesfireRestore: the card's log entry at our sequence number decides", () => {
  it("a load whose entry is in the log landed: applied, with the authorization MAC as proof", () => {
    const t = tx("load", 4);
    const d = decideDesfireRestore(t, CARD, [other(3), ours(t)]);
    expect(d).toEqual({ kind: "applied", completion: { balanceAfter: 1500, proof: S2 } });
  });

  it("a debit is found by its place and terms; its proof is its own reference", () => {
    const t = tx("debit", 4);
    expect(ours(t).authMac).toEqual(Buffer.alloc(8));
    expect(decideDesfireRestore(t, CARD, [ours(t)])).toEqual({
      kind: "applied",
      completion: { balanceAfter: 500, proof: debitReference("vtx-1").toString("hex") },
    });
  });

  it("the log still ends at the counter we saw: resend", () => {
    expect(decideDesfireRestore(tx("load", 4), CARD, [other(2), other(3), other(4)])).toEqual({
      kind: "resend",
    });
    expect(decideDesfireRestore(tx("load", 0), CARD, [])).toEqual({ kind: "resend" });
  });

  it("another transaction took our sequence number: ours can never land (stale)", () => {
    const t = tx("load", 4);
    expect(decideDesfireRestore(t, CARD, [other(4), other(5)])).toMatchObject({ kind: "stale" });
    // Same place, other terms (a different authorization MAC) is not ours either.
    const forged = { ...ours(t), authMac: Buffer.alloc(8, 1) };
    expect(decideDesfireRestore(t, CARD, [forged])).toMatchObject({ kind: "stale" });
  });

  it("the cyclic log moved past our entry's place, or ends before our counter: ambiguous, never reversed", () => {
    const t = tx("load", 4);
    const window = [12, 13, 14, 15, 16, 17, 18].map(other);
    expect(decideDesfireRestore(t, CARD, window)).toMatchObject({ kind: "ambiguous" });
    expect(decideDesfireRestore(t, CARD, [other(1), other(2)])).toMatchObject({ kind: "ambiguous" });
  });

  it("another card's transaction is not decided here", () => {
    expect(decideDesfireRestore(tx("load", 4), "df00000000000001", [])).toEqual({ kind: "other-card" });
  });
});
