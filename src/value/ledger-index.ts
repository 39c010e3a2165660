import type { ValueTx } from "./records.js";

/**
 * Indexes over the value ledger, kept by the reducer, so that no request scans every transaction:
 * the open ones, the open ones of each card, reversals still to report, closed ones in the order
 * they closed (for the retention cap), and each UTC day's load total per currency.
 */
export interface LedgerIndexes {
  open: Set<string>;
  openByCard: Map<string, Set<string>>;
  unreported: Set<string>;
  closed: Map<string, true>;
  /** `YYYY-MM-DD/currency` → minor units of loads not failed, by the day they were requested. */
  loadTotals: Map<string, number>;
}

export function emptyIndexes(): LedgerIndexes {
  return {
    open: new Set(),
    openByCard: new Map(),
    unreported: new Set(),
    closed: new Map(),
    loadTotals: new Map(),
  };
}

const isClosedPhase = (tx: ValueTx): boolean =>
  tx.phase === "applied" || tx.phase === "failed" || tx.phase === "unresolved";

export const loadTotalKey = (day: string, currency: number): string => `${day}/${currency}`;

/** A load counts against its day's limit unless it failed: an unresolved one may have landed. */
const countsAsLoad = (tx: ValueTx): boolean => tx.kind === "load" && tx.phase !== "failed";

/** Days before the newest by more than one are dropped: only today's total is ever asked for. */
function addLoad(ix: LedgerIndexes, tx: ValueTx, sign: 1 | -1): void {
  const day = tx.createdAt.slice(0, 10);
  const key = loadTotalKey(day, tx.currency);
  const total = (ix.loadTotals.get(key) ?? 0) + sign * tx.amount;
  if (total <= 0) ix.loadTotals.delete(key);
  else ix.loadTotals.set(key, total);
  if (sign === 1 && ix.loadTotals.size > 64) {
    for (const k of ix.loadTotals.keys()) if (k.slice(0, 10) < day) ix.loadTotals.delete(k);
  }
}

export function indexTx(ix: LedgerIndexes, tx: ValueTx): void {
  if (isClosedPhase(tx)) {
    ix.closed.set(tx.txId, true);
  } else {
    ix.open.add(tx.txId);
    if (tx.cardId !== null) {
      let set = ix.openByCard.get(tx.cardId);
      if (set === undefined) {
        set = new Set();
        ix.openByCard.set(tx.cardId, set);
      }
      set.add(tx.txId);
    }
  }
  if (tx.reversal !== null && !tx.reversal.reported && tx.reversalRefused === null)
    ix.unreported.add(tx.txId);
  if (countsAsLoad(tx)) addLoad(ix, tx, 1);
}

/** Takes `tx` out of every index; `indexTx` puts it back once its record is applied. */
export function unindexTx(ix: LedgerIndexes, tx: ValueTx): void {
  ix.open.delete(tx.txId);
  if (tx.cardId !== null) {
    const set = ix.openByCard.get(tx.cardId);
    set?.delete(tx.txId);
    if (set?.size === 0) ix.openByCard.delete(tx.cardId);
  }
  ix.unreported.delete(tx.txId);
  if (countsAsLoad(tx)) addLoad(ix, tx, -1);
  // `closed` keeps its order: a closed transaction never reopens, and pruning removes it itself.
}
