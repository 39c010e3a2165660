import type { BatchEntry } from "../ledger/state.js";
import type { BatchPhase } from "./machine.js";

export type BatchState =
  | "waiting"
  | "printing"
  | "suspended"
  | "recovering"
  | "completed"
  | "cancelled"
  | "interrupted"
  | "failed"
  /** Ended, with a piece the meter could not tell printed or not: a technician checks it. */
  | "unresolved";

export interface BatchView {
  batchId: string;
  requestId: string;
  meter: string;
  state: BatchState;
  currency: string;
  requestedPieces: number;
  acceptedPieces: number;
  printedPieces: number;
  skippedPieces: number;
  reserved: number;
  consumed: number;
  remaining: number;
  released: number;
  reason: string | null;
  /** Pieces whose fate the meter could not tell: held as spent, neither printed nor released. */
  unresolved: Array<{ pieceIndex: number; txnId: string; amount: number; reason: string }>;
  indicia: Array<{
    pieceIndex: number;
    txnId: string;
    sequence: number;
    amount: number;
    date: string;
    mac: string;
  }>;
}

/**
 * A batch as clients see it; `phase` is its live machine's, absent when no session runs it.
 * `waitingForJournal`: why the journal refuses its next record (a full disk), shown as suspended.
 */
export function batchView(
  b: BatchEntry,
  phase: BatchPhase | undefined,
  waitingForJournal: string | null = null,
): BatchView {
  const consumed = b.indicia.reduce((s, i) => s + i.amount, 0);
  let state: BatchState;
  if (b.outcome !== null) state = b.unresolved.length > 0 ? "unresolved" : b.outcome;
  else if (phase === undefined) state = "recovering";
  else state = phase === "suspended" || waitingForJournal !== null ? "suspended" : "printing";
  return {
    batchId: b.batchId,
    requestId: b.requestId,
    meter: b.meter,
    state,
    currency: b.currency,
    requestedPieces: b.requestedPieces,
    acceptedPieces: b.pieces.length,
    printedPieces: b.indicia.length,
    skippedPieces: b.requestedPieces - b.pieces.length,
    reserved: b.reserved,
    consumed,
    remaining: b.remaining,
    released: b.released,
    reason: b.outcome === null && waitingForJournal !== null ? waitingForJournal : b.reason,
    unresolved: b.unresolved.map((u) => ({ ...u })),
    indicia: b.indicia.map((i) => ({ ...i })),
  };
}
