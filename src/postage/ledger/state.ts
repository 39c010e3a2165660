import { z } from "zod";
import type { JournalRecord } from "../../journal/index.js";
import { BatchEntry } from "./batch-entry.js";
import { FinishedBatches, type FinishedRow } from "./finished.js";
import type { LedgerBody, LedgerRecords } from "./records.js";

export { BatchEntry, IndiciumEntry } from "./batch-entry.js";
export type { FinishedRow } from "./finished.js";

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

/**
 * Open batches are live objects, changed by every record of their session; finished ones are
 * history, kept compact and decoded when asked for. Read batches through `batchOf`,
 * `batchOfRequest`, `openBatches` and `finishedBatches`.
 */
export interface LedgerState {
  meters: Map<string, MeterMirror>;
  open: Map<string, BatchEntry>;
  /** Closed batches in closing order; the oldest are forgotten past the retention. */
  finished: FinishedBatches;
  /** Request id to batch id, open and finished. */
  batchByRequest: Map<string, string>;
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
    open: new Map(),
    finished: new FinishedBatches(),
    batchByRequest: new Map(),
    finishedPieces: 0,
  };
}

/** A batch by id: an open one as the live entry, a finished one decoded (a copy). */
export function batchOf(state: LedgerState, batchId: string): BatchEntry | undefined {
  return state.open.get(batchId) ?? state.finished.get(batchId);
}

export function batchOfRequest(state: LedgerState, requestId: string): BatchEntry | undefined {
  const id = state.batchByRequest.get(requestId);
  return id === undefined ? undefined : batchOf(state, id);
}

/** Open batches, in the order they opened. */
export function openBatches(state: LedgerState): IterableIterator<BatchEntry> {
  return state.open.values();
}

/** Finished batches, oldest first, each decoded as it is reached: for lists, not for hot paths. */
export function finishedBatches(state: LedgerState): IterableIterator<BatchEntry> {
  return state.finished.values();
}

/** Every batch kept: the finished ones (decoded, oldest first), then the open ones. */
export function* allBatches(state: LedgerState): IterableIterator<BatchEntry> {
  yield* state.finished.values();
  yield* state.open.values();
}

/** Ids of the finished batches, oldest first. */
export function finishedIds(state: LedgerState): string[] {
  return [...state.finished.ids()];
}

/** Sum of what open batches still hold on a meter. */
export function reservedOn(state: LedgerState, meter: string): number {
  let sum = 0;
  for (const b of state.open.values()) if (b.meter === meter && b.outcome === null) sum += b.remaining;
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

/**
 * Applies one committed record; never throws for a body its schema accepted (unknown ids are
 * ignored), save for a finished batch whose encoding does not decode (JOURNAL_RECORD_INVALID). Only
 * an indicium reaches a finished batch (intents, voids and unresolved intents need the pending
 * intent a close clears, and a second close is ignored).
 */
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
      const batch = state.open.get(record.body.batchId);
      if (batch !== undefined && batch.outcome === null)
        batch.pending = { pieceIndex: record.body.pieceIndex, request: record.body.request };
      break;
    }
    case "indicium.printed": {
      const open = state.open.get(record.body.batchId);
      if (open !== undefined) printed(state, open, record.body);
      else {
        // Rare (a print journaled after its batch's close): rewritten in its place.
        const done = state.finished.get(record.body.batchId);
        if (done !== undefined && printed(state, done, record.body)) state.finished.add(done);
      }
      break;
    }
    case "print.voided": {
      const batch = state.open.get(record.body.batchId);
      if (batch?.pending?.request.txnId === record.body.txnId) {
        batch.pending = null;
        batch.voided++;
      }
      break;
    }
    case "print.unresolved": {
      const b = record.body;
      const batch = state.open.get(b.batchId);
      if (batch?.pending?.request.txnId !== b.txnId) break;
      batch.pending = null;
      batch.unresolved.push({ pieceIndex: b.pieceIndex, txnId: b.txnId, amount: b.amount, reason: b.reason });
      // It may have printed (the meter's balance then fell by its amount): never released as unprinted.
      batch.remaining = Math.max(0, batch.remaining - b.amount);
      break;
    }
    case "reservation.closed": {
      const batch = state.open.get(record.body.batchId);
      if (batch === undefined || batch.outcome !== null) break;
      batch.outcome = record.body.outcome;
      batch.released = batch.remaining;
      batch.remaining = 0;
      batch.pending = null;
      batch.reason = record.body.reason ?? null;
      // A close journaled before closedAt existed counts from the batch's opening.
      batch.closedAt = record.body.closedAt ?? batch.openedAt;
      state.open.delete(batch.batchId);
      state.finished.add(batch);
      state.finishedPieces += batch.pieces.length;
      break;
    }
  }
  return state;
}

function openBatch(state: LedgerState, b: LedgerBody<"reservation.opened">): void {
  if (state.open.has(b.batchId) || state.finished.has(b.batchId)) return;
  // Named field by field: the opening record's own `amount` is `reserved` here.
  state.open.set(b.batchId, {
    batchId: b.batchId,
    requestId: b.requestId,
    meter: b.meter,
    currency: b.currency,
    pieces: b.pieces,
    requestedPieces: b.requestedPieces,
    onInsufficient: b.onInsufficient,
    openedAt: b.openedAt,
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

/** Whether `batch` changed (an indicium it holds already is a replay). */
function printed(state: LedgerState, batch: BatchEntry, p: LedgerBody<"indicium.printed">): boolean {
  if (batch.indicia.some((i) => i.txnId === p.txnId)) return false;
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
  return true;
}

/**
 * Forgets the oldest finished batches while they are over a cap, or closed too long ago and not
 * among the newest `KEEP_NEWEST`. Each forgotten batch costs O(1) and is never decoded.
 */
export function forgetFinished(state: LedgerState, retention: LedgerRetention, now: number): void {
  const cutoff = now - retention.days * 86_400_000;
  for (;;) {
    const closedAt = state.finished.oldestClosedAt();
    if (closedAt === undefined) break;
    const left = state.finished.size;
    const overCap = left > retention.maxBatches || state.finishedPieces > retention.maxPieces;
    const expired = closedAt === null || Date.parse(closedAt) < cutoff;
    if (!overCap && !(expired && left > KEEP_NEWEST)) break;
    const gone = state.finished.dropOldest();
    if (gone === undefined) break;
    state.finishedPieces -= gone.pieces;
    // A request id answers for the batch it names now, not for one forgotten before it.
    if (state.batchByRequest.get(gone.requestId) === gone.batchId)
      state.batchByRequest.delete(gone.requestId);
  }
}

const FinishedRowSchema = z.tuple([
  z.string(),
  z.string(),
  z.string().nullable(),
  z.number().int(),
  z.string(),
]);

/**
 * Open batches whole, finished ones as their encodings (rows of FinishedRow). Open batches are
 * validated here, at the load: the reducer and the recovery read every one of them right away, and
 * they are few. Finished ones are validated when one is read (batch-codec.ts decodes through the
 * BatchEntry schema): a day holds 20,000 of them, rarely read, and checking each at every reopen
 * would cost the reopen more than everything else it does. Their strings come from the encoder of a
 * validated entry, inside a frame whose checksum held, so a refusal there is a format mismatch, not
 * a disk's damage.
 */
const CompactSnapshot = z.object({
  meters: z.array(z.tuple([z.string(), MeterMirror])),
  open: z.array(BatchEntry),
  finished: z.array(FinishedRowSchema),
});

/** Snapshots written before finished batches were kept compact: every batch whole, finished ids apart. */
const WholeSnapshot = z.object({
  meters: z.array(z.tuple([z.string(), MeterMirror])),
  batches: z.array(BatchEntry),
  finished: z.array(z.string()),
});

export const LedgerSnapshot = z.union([CompactSnapshot, WholeSnapshot]);
export type LedgerSnapshot = z.infer<typeof LedgerSnapshot>;

export const ledgerSnapshotCodec = {
  schema: LedgerSnapshot,
  save: (s: LedgerState): LedgerSnapshot => ({
    meters: [...s.meters],
    open: [...s.open.values()],
    finished: s.finished.rows(),
  }),
  load: (snap: LedgerSnapshot): LedgerState => ("open" in snap ? loadCompact(snap) : loadWhole(snap)),
};

function loadCompact(snap: z.infer<typeof CompactSnapshot>): LedgerState {
  const state = emptyLedger();
  state.meters = new Map(snap.meters);
  for (const row of snap.finished as FinishedRow[]) {
    state.finished.addRow(row);
    state.batchByRequest.set(row[1], row[0]);
    state.finishedPieces += row[3];
  }
  for (const b of snap.open) {
    state.open.set(b.batchId, b);
    state.batchByRequest.set(b.requestId, b.batchId);
  }
  return state;
}

/**
 * Snapshots written before closedAt was kept: a finished batch counts from its opening, and the
 * finished list held "b:<batchId>" keys. A closed batch missing from the list (none should be) has
 * no known closing place: it is taken as the oldest.
 */
function loadWhole(snap: z.infer<typeof WholeSnapshot>): LedgerState {
  const state = emptyLedger();
  state.meters = new Map(snap.meters);
  const closed = new Map<string, BatchEntry>();
  for (const b of snap.batches) {
    if (b.outcome === null) state.open.set(b.batchId, b);
    else closed.set(b.batchId, { ...b, closedAt: b.closedAt ?? b.openedAt });
    state.batchByRequest.set(b.requestId, b.batchId);
  }
  const listed = snap.finished.map((k) => (k.startsWith("b:") ? k.slice(2) : k));
  const inList = new Set(listed);
  const order = [...[...closed.keys()].filter((id) => !inList.has(id)), ...listed];
  for (const id of order) {
    const b = closed.get(id);
    if (b === undefined || state.finished.has(id)) continue;
    state.finished.add(b);
    state.finishedPieces += b.pieces.length;
  }
  return state;
}
