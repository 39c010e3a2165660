import type { ValueTx } from "./records.js";

/**
 * Indexes over the value ledger, kept by the reducer, so that no request scans every transaction:
 * the open ones, the open ones of each card, reversals still to report,
 * and each UTC day's load total per currency.
 */
export interface LedgerIndexes {
  open: Set<string>;
  openByCard: Map<string, Set<string>>;
  unreported: Set<string>;
  /** `YYYY-MM-DD/currency` → minor units of loads not failed, by the day they were requested. */
  loadTotals: Map<string, number>;
}

export function emptyIndexes(): LedgerIndexes {
  return {
    open: new Set(),
    openByCard: new Map(),
    unreported: new Set(),
    loadTotals: new Map(),
  };
}

const isClosedPhase = (tx: ValueTx): boolean =>
  tx.phase === "applied" || tx.phase === "failed" || tx.phase === "unresolved";

const isUnreported = (tx: ValueTx): boolean =>
  tx.reversal !== null && !tx.reversal.reported && tx.reversalRefused === null;

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
  // Closed ones are ordered by the ledger's closed store, not here.
  if (!isClosedPhase(tx)) {
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

/** What the indexes hold of a transaction, taken before a record changes it. */
export interface Indexed {
  open: boolean;
  cardId: string | null;
  unreported: boolean;
  counts: boolean;
}

export function indexedOf(tx: ValueTx): Indexed {
  return {
    open: !isClosedPhase(tx),
    cardId: tx.cardId,
    unreported: isUnreported(tx),
    counts: countsAsLoad(tx),
  };
}

/** Moves `tx` in the indexes from what `before` says to what it is now: only what changed. */
export function reindexTx(ix: LedgerIndexes, tx: ValueTx, before: Indexed): void {
  const open = !isClosedPhase(tx);
  if (before.open && (!open || before.cardId !== tx.cardId) && before.cardId !== null) {
    const set = ix.openByCard.get(before.cardId);
    set?.delete(tx.txId);
    if (set?.size === 0) ix.openByCard.delete(before.cardId);
  }
  if (before.open && !open) {
    ix.open.delete(tx.txId);
  } else if (open && before.cardId !== tx.cardId && tx.cardId !== null) {
    let set = ix.openByCard.get(tx.cardId);
    if (set === undefined) {
      set = new Set();
      ix.openByCard.set(tx.cardId, set);
    }
    set.add(tx.txId);
  }
  const unreported = isUnreported(tx);
  if (unreported !== before.unreported) {
    if (unreported) ix.unreported.add(tx.txId);
    else ix.unreported.delete(tx.txId);
  }
  const counts = countsAsLoad(tx);
  if (counts !== before.counts) addLoad(ix, tx, counts ? 1 : -1);
}
