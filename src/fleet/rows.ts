import type { BatchEntry } from "../postage/ledger/state.js";
import { currencyAlpha } from "../purse/currency.js";
import { isRefillMessage } from "../value/devices.js";
import { isOpen, type ValueTx } from "../value/records.js";

/** One finished transaction of one kiosk, as the fleet ledger holds it. */
export interface LedgerRow {
  tx_id: string;
  kind: "load" | "debit" | "refill" | "batch";
  state: string;
  target: string;
  amount: number;
  currency: string;
  at: string;
  body: Record<string, unknown>;
}

/**
 * A closed value transaction as a ledger row; undefined while open. A refill names the reservation
 * it settles (its meter transaction id) and what the meter was credited: its amount when applied.
 */
export function valueRow(tx: ValueTx): LedgerRow | undefined {
  if (isOpen(tx)) return undefined;
  const refill = tx.kind === "refill" && isRefillMessage(tx.message) ? tx.message : undefined;
  return {
    tx_id: tx.txId,
    kind: tx.kind,
    state: tx.phase,
    target: tx.cardId ?? tx.reader,
    amount: tx.amount,
    currency: currencyAlpha(tx.currency) ?? String(tx.currency),
    at: tx.updatedAt,
    body: {
      requestId: tx.requestId,
      reader: tx.reader,
      createdAt: tx.createdAt,
      balanceBefore: tx.balanceBefore,
      balanceAfter: tx.balanceAfter,
      restored: tx.restored,
      error: tx.error,
      unresolved: tx.unresolved,
      ...(refill === undefined
        ? {}
        : { reservation: refill.txnId, credited: tx.phase === "applied" ? refill.amount : 0 }),
    },
  };
}

/** A closed postage batch as a ledger row: what it consumed from its meter, piece by piece. */
export function batchRow(b: BatchEntry): LedgerRow | undefined {
  if (b.outcome === null) return undefined;
  const consumed = b.indicia.reduce((s, i) => s + i.amount, 0);
  return {
    tx_id: b.batchId,
    kind: "batch",
    state: b.unresolved.length > 0 ? "unresolved" : b.outcome,
    target: b.meter,
    amount: consumed,
    currency: b.currency,
    at: b.closedAt ?? b.openedAt,
    body: {
      requestId: b.requestId,
      requestedPieces: b.requestedPieces,
      printedPieces: b.indicia.length,
      reserved: b.reserved,
      released: b.released,
      unresolved: b.unresolved.length,
      reason: b.reason,
      indicia: b.indicia.map((i) => i.txnId),
    },
  };
}
