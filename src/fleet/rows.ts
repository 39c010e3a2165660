import { refillTxnId } from "../postage/batch/ids.js";
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
export function valueRow(
  tx: ValueTx,
  meterSerial?: (meter: string) => string | undefined,
): LedgerRow | undefined {
  if (isOpen(tx)) return undefined;
  const refill = tx.kind === "refill" ? refillFacts(tx, meterSerial) : undefined;
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
        : { reservation: refill.key, credited: tx.phase === "applied" ? refill.amount : 0 }),
    },
  };
}

/**
 * The reservation a refill settles: its meter transaction id, journaled with its message; one that
 * failed before it (its meter never read) is keyed by the meter's serial as known now.
 */
function refillFacts(
  tx: ValueTx,
  meterSerial: ((meter: string) => string | undefined) | undefined,
): { key: string; amount: number } | undefined {
  if (isRefillMessage(tx.message)) return { key: tx.message.txnId, amount: tx.message.amount };
  const serial = tx.cardId ?? meterSerial?.(tx.reader);
  return serial === undefined ? undefined : { key: refillTxnId(serial, tx.requestId), amount: tx.amount };
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
