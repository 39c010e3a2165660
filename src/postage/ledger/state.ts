import { z } from "zod";
import type { JournalRecord } from "../../journal/index.js";
import { PrintRequest } from "../protocol/index.js";
import {
  BatchOutcome,
  InsufficientProcedure,
  type LedgerBody,
  type LedgerRecords,
  PieceSpec,
} from "./records.js";

/** The ledger's view of one meter: a mirror of its registers, moved only by journaled records. */
export const MeterMirror = z.object({
  serial: z.string(),
  /** Mirrors the descending register: the funds on the meter. */
  balance: z.number().int(),
  ascending: z.number().int(),
  controlTotal: z.number().int(),
  pieceCount: z.number().int(),
});
export type MeterMirror = z.infer<typeof MeterMirror>;

export const IndiciumEntry = z.object({
  pieceIndex: z.number().int(),
  txnId: z.string(),
  amount: z.number().int(),
  sequence: z.number().int(),
  date: z.string(),
  mac: z.string(),
});
export type IndiciumEntry = z.infer<typeof IndiciumEntry>;

export const BatchEntry = z.object({
  batchId: z.string(),
  requestId: z.string(),
  meter: z.string(),
  currency: z.string(),
  pieces: z.array(PieceSpec),
  requestedPieces: z.number().int(),
  onInsufficient: InsufficientProcedure,
  openedAt: z.string(),
  reserved: z.number().int(),
  /** What is still held for this batch: reserved minus printed, zero once closed. */
  remaining: z.number().int(),
  indicia: z.array(IndiciumEntry),
  /** The journaled intent whose outcome is not known yet. */
  pending: z.object({ pieceIndex: z.number().int(), request: PrintRequest }).nullable(),
  voided: z.number().int(),
  /** Intents the meter could not answer for: possibly printed, held as spent (snapshots before it: none). */
  unresolved: z
    .array(
      z.object({
        pieceIndex: z.number().int(),
        txnId: z.string(),
        amount: z.number().int(),
        reason: z.string(),
      }),
    )
    .default([]),
  outcome: BatchOutcome.nullable(),
  released: z.number().int(),
  reason: z.string().nullable(),
  /** When the batch closed; null while open (and in snapshots written before it was kept). */
  closedAt: z.string().nullable().default(null),
});
export type BatchEntry = z.infer<typeof BatchEntry>;

export interface LedgerState {
  meters: Map<string, MeterMirror>;
  batches: Map<string, BatchEntry>;
  batchByRequest: Map<string, string>;
  /** Ids of closed batches in closing order; the oldest are forgotten past the retention. */
  finished: string[];
  /** The pieces of the batches in `finished`: what their memory and snapshot grow with. */
  finishedPieces: number;
}

/**
 * How long finished batches stay answerable (status, request-id replays): for `days` after they
 * closed, the oldest forgotten first once there are more than `maxBatches` of them or their pieces
 * pass `maxPieces` (a batch holds up to 1,000 pieces and their indicia, so both bound the memory and
 * the snapshot).
 */
export interface LedgerRetention {
  days: number;
  maxBatches: number;
  maxPieces: number;
}
export const DEFAULT_RETENTION: LedgerRetention = { days: 30, maxBatches: 20_000, maxPieces: 100_000 };
/** However old they look, the newest finished batches stay: a clock set wrong never empties the history. */
export const KEEP_NEWEST = 2048;

export function emptyLedger(): LedgerState {
  return {
    meters: new Map(),
    batches: new Map(),
    batchByRequest: new Map(),
    finished: [],
    finishedPieces: 0,
  };
}

/** Sum of what open batches still hold on a meter. */
export function reservedOn(state: LedgerState, meter: string): number {
  let sum = 0;
  for (const b of state.batches.values()) if (b.meter === meter && b.outcome === null) sum += b.remaining;
  return sum;
}

export type LedgerRecord = JournalRecord<LedgerRecords>;

/** The ledger's reducer, forgetting finished batches past `retention`. */
export function ledgerReducer(retention: LedgerRetention = DEFAULT_RETENTION) {
  return (state: LedgerState, record: LedgerRecord): LedgerState => {
    reduceLedger(state, record);
    if (record.type === "reservation.closed") forgetFinished(state, retention, Date.now());
    return state;
  };
}

/** Applies one committed record; never throws for a body its schema accepted (unknown ids are ignored). */
export function reduceLedger(state: LedgerState, record: LedgerRecord): LedgerState {
  switch (record.type) {
    case "meter.synced": {
      const b = record.body;
      state.meters.set(b.meter, {
        serial: b.serial,
        balance: b.descending,
        ascending: b.ascending,
        controlTotal: b.controlTotal,
        pieceCount: b.pieceCount,
      });
      break;
    }
    case "reservation.opened":
      openBatch(state, record.body);
      break;
    case "print.intent": {
      const batch = state.batches.get(record.body.batchId);
      if (batch !== undefined && batch.outcome === null)
        batch.pending = { pieceIndex: record.body.pieceIndex, request: record.body.request };
      break;
    }
    case "indicium.printed":
      printed(state, record.body);
      break;
    case "print.voided": {
      const batch = state.batches.get(record.body.batchId);
      if (batch?.pending?.request.txnId === record.body.txnId) {
        batch.pending = null;
        batch.voided++;
      }
      break;
    }
    case "print.unresolved": {
      const b = record.body;
      const batch = state.batches.get(b.batchId);
      if (batch?.pending?.request.txnId !== b.txnId) break;
      batch.pending = null;
      batch.unresolved.push({ pieceIndex: b.pieceIndex, txnId: b.txnId, amount: b.amount, reason: b.reason });
      // It may have printed (the meter's balance then fell by its amount): never released as unprinted.
      batch.remaining = Math.max(0, batch.remaining - b.amount);
      break;
    }
    case "reservation.closed": {
      const batch = state.batches.get(record.body.batchId);
      if (batch === undefined || batch.outcome !== null) break;
      batch.outcome = record.body.outcome;
      batch.released = batch.remaining;
      batch.remaining = 0;
      batch.pending = null;
      batch.reason = record.body.reason ?? null;
      // A close journaled before closedAt existed counts from the batch's opening.
      batch.closedAt = record.body.closedAt ?? batch.openedAt;
      state.finished.push(batch.batchId);
      state.finishedPieces += batch.pieces.length;
      break;
    }
  }
  return state;
}

function openBatch(state: LedgerState, b: LedgerBody<"reservation.opened">): void {
  if (state.batches.has(b.batchId)) return;
  state.batches.set(b.batchId, {
    ...b,
    reserved: b.amount,
    remaining: b.amount,
    indicia: [],
    pending: null,
    voided: 0,
    unresolved: [],
    outcome: null,
    released: 0,
    reason: null,
    closedAt: null,
  });
  state.batchByRequest.set(b.requestId, b.batchId);
}

function printed(state: LedgerState, p: LedgerBody<"indicium.printed">): void {
  const batch = state.batches.get(p.batchId);
  if (batch === undefined || batch.indicia.some((i) => i.txnId === p.txnId)) return;
  batch.indicia.push({
    pieceIndex: p.pieceIndex,
    txnId: p.txnId,
    amount: p.amount,
    sequence: p.sequence,
    date: p.date,
    mac: p.mac,
  });
  if (batch.pending?.request.txnId === p.txnId) batch.pending = null;
  // One indicium is one decrement of its reservation and of the balance.
  batch.remaining = Math.max(0, batch.remaining - p.amount);
  const m = state.meters.get(batch.meter);
  if (m !== undefined) {
    m.balance = p.descendingAfter;
    m.ascending += p.amount;
    m.pieceCount = p.sequence;
  }
}

/**
 * Forgets the oldest finished batches while they are over a cap, or closed too long ago and not
 * among the newest `KEEP_NEWEST`.
 */
export function forgetFinished(state: LedgerState, retention: LedgerRetention, now: number): void {
  const cutoff = now - retention.days * 86_400_000;
  let drop = 0;
  let pieces = state.finishedPieces;
  for (const id of state.finished) {
    const batch = state.batches.get(id);
    const left = state.finished.length - drop;
    const overCap = left > retention.maxBatches || pieces > retention.maxPieces;
    const closedAt = batch?.closedAt;
    const expired = closedAt == null || Date.parse(closedAt) < cutoff;
    if (!overCap && !(expired && left > KEEP_NEWEST)) break;
    pieces -= batch?.pieces.length ?? 0;
    drop++;
  }
  for (const id of state.finished.splice(0, drop)) {
    const batch = state.batches.get(id);
    state.batches.delete(id);
    if (batch !== undefined) state.batchByRequest.delete(batch.requestId);
  }
  state.finishedPieces = pieces;
}

export const LedgerSnapshot = z.object({
  meters: z.array(z.tuple([z.string(), MeterMirror])),
  batches: z.array(BatchEntry),
  finished: z.array(z.string()),
});
export type LedgerSnapshot = z.infer<typeof LedgerSnapshot>;

export const ledgerSnapshotCodec = {
  schema: LedgerSnapshot,
  save: (s: LedgerState): LedgerSnapshot => ({
    meters: [...s.meters],
    batches: [...s.batches.values()],
    finished: [...s.finished],
  }),
  // Snapshots written before closedAt was kept: a finished batch counts from its opening, and the
  // finished list held "b:<batchId>" keys.
  load: (snap: LedgerSnapshot): LedgerState => ({
    meters: new Map(snap.meters),
    batches: new Map(
      snap.batches.map((b) => [
        b.batchId,
        { ...b, closedAt: b.closedAt ?? (b.outcome === null ? null : b.openedAt) },
      ]),
    ),
    batchByRequest: new Map(snap.batches.map((b) => [b.requestId, b.batchId])),
    finished: snap.finished.map((k) => (k.startsWith("b:") ? k.slice(2) : k)),
    finishedPieces: snap.batches.reduce((n, b) => n + (b.outcome === null ? 0 : b.pieces.length), 0),
  }),
};
