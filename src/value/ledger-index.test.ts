import { describe, expect, it } from "vitest";
import type { JournalRecord } from "../journal/index.js";
import { prng } from "../util/prng.js";
import { loadTotalKey } from "./ledger-index.js";
import {
  DEFAULT_RETENTION,
  emptyValueState,
  isOpen,
  reduceValue,
  type ValueRecords,
  type ValueState,
  type ValueTx,
  valueSnapshot,
} from "./records.js";

/** The reducer's indexes against the same sets computed the slow way, after random histories. */
function slow(s: ValueState) {
  const txs = [...s.txs.values()];
  const byCard = new Map<string, string[]>();
  for (const tx of txs)
    if (isOpen(tx) && tx.cardId !== null) byCard.set(tx.cardId, [...(byCard.get(tx.cardId) ?? []), tx.txId]);
  const totals = new Map<string, number>();
  for (const tx of txs)
    if (tx.kind === "load" && tx.phase !== "failed") {
      const k = loadTotalKey(tx.createdAt.slice(0, 10), tx.currency);
      totals.set(k, (totals.get(k) ?? 0) + tx.amount);
    }
  return {
    open: txs
      .filter(isOpen)
      .map((t) => t.txId)
      .sort(),
    byCard: [...byCard].map(([c, ids]) => [c, ids.sort()]).sort(),
    unreported: txs
      .filter((t) => t.reversal !== null && !t.reversal.reported && t.reversalRefused === null)
      .map((t) => t.txId)
      .sort(),
    totals: [...totals].sort(),
  };
}

function fast(s: ValueState) {
  return {
    open: [...s.open].sort(),
    byCard: [...s.openByCard].map(([c, ids]) => [c, [...ids].sort()]).sort(),
    unreported: [...s.unreported].sort(),
    totals: [...s.loadTotals].sort(),
  };
}

const byId = (s: ValueState): ValueTx[] => [...s.txs.values()].sort((a, b) => a.txId.localeCompare(b.txId));
const TEN_YEARS = { ...DEFAULT_RETENTION, closedMs: 3650 * 86_400_000 };

/** Through a snapshot as the journal writes and reads it: JSON, then the schema. */
function throughSnapshot(s: ValueState, legacy = false): ValueState {
  const codec = valueSnapshot(s.retention);
  const saved = legacy ? { txs: byId(s) } : codec.save(s);
  return codec.load(codec.schema.parse(JSON.parse(JSON.stringify(saved))));
}

describe("value ledger indexes", () => {
  it("agree with the transactions after 200 random histories, and survive a snapshot, old or new", () => {
    const rand = prng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
    for (let h = 0; h < 200; h++) {
      const capped = h % 4 === 3;
      let s = emptyValueState(capped ? { ...TEN_YEARS, maxClosed: 3 } : TEN_YEARS);
      let seq = 0;
      const apply = (type: string, body: object) => {
        s = reduceValue(s, { type, seq: seq++, body } as unknown as JournalRecord<ValueRecords>);
      };
      for (let i = 0; i < 12; i++) {
        const txId = `t${i}`;
        const kind = pick(["load", "debit"] as const);
        const at = `2026-12-0${1 + Math.floor(rand() * 3)}T00:00:00.000Z`;
        const currency = pick([978, 840]);
        apply("value.requested", {
          txId,
          requestId: `r${i}`,
          kind,
          reader: "r",
          amount: 10 + i,
          currency,
          at,
        });
        const cardId = pick(["c0c0c0c0c0c00001", "c0c0c0c0c0c00002"]);
        if (rand() < 0.8) apply("value.authorizing", { txId, cardId, counter: i, balanceBefore: 0, at });
        if (rand() < 0.6)
          apply("value.authorized", {
            txId,
            authorizationId: i,
            message: { counter: i, amount: 10 + i, currency, terminalId: "5445524d30303031" },
            at,
          });
        const end = pick(["open", "applied", "failed", "reversed", "refused", "unresolved"] as const);
        if (end === "applied")
          apply("value.applied", { txId, balanceAfter: 1, proof: "00".repeat(8), restored: null, at });
        if (end === "unresolved")
          apply("value.unresolved", { txId, reason: "written-off", message: "lost", at });
        if (end === "failed" || end === "reversed" || end === "refused")
          apply("value.failed", {
            txId,
            code: "X",
            message: "x",
            reversal: end === "failed" ? null : { authorizationId: i, reported: false },
            at,
          });
        if (end === "reversed" && rand() < 0.5) apply("value.reversal-reported", { txId, at });
        if (end === "refused")
          apply("value.reversal-refused", { txId, code: "VALUE_REFUSED", message: "applied", at });
      }
      if (!capped) expect(fast(s)).toEqual(slow(s));
      // The cap forgets the oldest, but never a reversal still to report.
      const toReport = [...s.unreported].filter((id) => s.closed.has(id)).length;
      expect(s.closed.size).toBeLessThanOrEqual(Math.max(s.retention.maxClosed, toReport));
      for (const id of s.unreported) expect(s.txs.has(id)).toBe(true);
      // Every request id left points at a transaction kept.
      for (const [requestId, txId] of s.byRequest) expect(s.txs.get(txId)?.requestId).toBe(requestId);
      // No `txs` in a new snapshot: a daemon from before refuses it instead of reading no history.
      expect(Object.keys(valueSnapshot(s.retention).save(s))).not.toContain("txs");
      const again = throughSnapshot(s);
      expect(byId(again)).toEqual(byId(s));
      expect(fast(again)).toEqual(fast(s));
      expect([...again.byRequest].sort()).toEqual([...s.byRequest].sort());
      expect([...again.closed.ids()]).toEqual([...s.closed.ids()]);
      if (!capped) expect(fast(throughSnapshot(s, true))).toEqual(fast(s));
      if (!capped) expect(byId(throughSnapshot(s, true))).toEqual(byId(s));
    }
  });
});
