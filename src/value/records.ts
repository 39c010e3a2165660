import { z } from "zod";
import type { JournalRecord } from "../journal/index.js";
import { ClosedStore } from "../util/closed-store.js";
import { closedRequestId, closedTxCodec, closedUpdatedMs } from "./closed-codec.js";
import { emptyIndexes, indexedOf, indexTx, type LedgerIndexes, reindexTx } from "./ledger-index.js";

/**
 * The value ledger's journal records, for every kind of value transaction: card loads and debits,
 * and meter refills. `value.authorized` is the restore record of claim 002 (C, E4): the target's
 * id, its counter, the amount and the authorization, with the exact value-increase message; it is
 * durable before that message leaves the host.
 */
const Hex8 = z.string().regex(/^[0-9a-f]{16}$/);
/** A card id (8 bytes as hex) or a meter serial. */
const TargetId = z.string().regex(/^[0-9A-Za-z._-]{1,32}$/);
/** A completion proof: S3 or a debit proof (8 bytes), or a meter's refill transaction id (16 bytes). */
const Proof = z.string().regex(/^(?:[0-9a-f]{16}|[0-9a-f]{32})$/);
const Money = z.number().int().min(0).max(0x7fffffff);
const Counter = z.number().int().min(0).max(0xffffffff);
const At = z.string();
const AuthorizerRef = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
export const UnresolvedReason = z.enum(["counter-moved-on", "written-off", "authorizer-applied"]);
export type UnresolvedReason = z.infer<typeof UnresolvedReason>;

export const ValueMessage = z
  .object({
    counter: Counter,
    amount: Money,
    currency: z.number().int().min(1).max(999),
    terminalId: Hex8,
    /** S2 for a credit; absent for a debit. */
    s2: Hex8.optional(),
  })
  .strict();
export type ValueMessage = z.infer<typeof ValueMessage>;

/** A meter refill as sent: the meter's transaction id, and the vendor's authorization over it. */
export const RefillMessage = z
  .object({
    txnId: z.string().regex(/^[0-9a-f]{32}$/),
    amount: Money,
    nextInspection: z.iso.date(),
    authorization: z.string().regex(/^[0-9a-f]{32}$/),
  })
  .strict();
export type RefillMessage = z.infer<typeof RefillMessage>;

export const StoredMessage = z.union([ValueMessage, RefillMessage]);
export type StoredMessage = z.infer<typeof StoredMessage>;

export const ValueKind = z.enum(["load", "debit", "refill"]);
export type ValueKind = z.infer<typeof ValueKind>;
/** Kinds that add value: each needs an authorization and has a restore record. */
export const isIncrease = (kind: ValueKind): boolean => kind !== "debit";

export const ValueRecords = {
  "value.requested": z
    .object({
      txId: z.string(),
      requestId: z.string(),
      kind: ValueKind,
      /** Where the target is: a reader's name, or a meter's for a refill. */
      reader: z.string(),
      amount: Money,
      currency: z.number().int().min(1).max(999),
      at: At,
    })
    .strict(),
  /**
   * The target is known (a card authenticated, a meter read); an authorization may be asked for
   * from here on. For a meter, the counter is its control total.
   */
  "value.authorizing": z
    .object({
      txId: z.string(),
      cardId: TargetId,
      counter: Counter,
      balanceBefore: Money,
      /** The authorizer's exchange (an issuer session): ended before restore decides (absent: none). */
      authorizerRef: AuthorizerRef.optional(),
      at: At,
    })
    .strict(),
  /** The restore record: what to resend, and the authorization to report if it never lands. */
  "value.authorized": z
    .object({ txId: z.string(), authorizationId: z.number().int().min(0), message: StoredMessage, at: At })
    .strict(),
  /** A debit's message, durable before DEBIT is sent. */
  "value.debiting": z
    .object({ txId: z.string(), cardId: TargetId, balanceBefore: Money, message: ValueMessage, at: At })
    .strict(),
  "value.applied": z
    .object({
      txId: z.string(),
      balanceAfter: Money,
      proof: Proof,
      restored: z.enum(["already-applied", "resent"]).nullable(),
      at: At,
    })
    .strict(),
  "value.failed": z
    .object({
      txId: z.string(),
      code: z.string(),
      message: z.string(),
      reversal: z
        .object({ authorizationId: z.number().int().min(0), reported: z.boolean() })
        .strict()
        .nullable(),
      at: At,
    })
    .strict(),
  "value.reversal-reported": z.object({ txId: z.string(), at: At }).strict(),
  /** The authorizer refused the reversal (it holds the authorization as applied): asked no more. */
  "value.reversal-refused": z
    .object({ txId: z.string(), code: z.string(), message: z.string(), at: At })
    .strict(),
  /**
   * Closed without a verdict: the value may or may not have landed (the card moved on past our
   * counter, a technician wrote the transaction off, the authorizer says applied without our
   * message). Nothing is reported for reversal; the issuer's reconciliation decides.
   */
  "value.unresolved": z
    .object({ txId: z.string(), reason: UnresolvedReason, message: z.string().max(500), at: At })
    .strict(),
} as const;
export type ValueRecords = typeof ValueRecords;

export const PHASES = [
  "requested",
  "authorizing",
  "authorized",
  "debiting",
  "applied",
  "failed",
  "unresolved",
] as const;
export type Phase = (typeof PHASES)[number];

export interface ValueTx {
  txId: string;
  requestId: string;
  kind: ValueKind;
  /** A reader's name, or a meter's for a refill. */
  reader: string;
  amount: number;
  currency: number;
  phase: Phase;
  /** The card's id, or the meter's serial for a refill. */
  cardId: string | null;
  counter: number | null;
  balanceBefore: number | null;
  /** The authorizer's exchange that asked for the authorization (an issuer session), if any. */
  authorizerRef: string | null;
  authorizationId: number | null;
  message: StoredMessage | null;
  balanceAfter: number | null;
  proof: string | null;
  restored: "already-applied" | "resent" | null;
  error: { code: string; message: string } | null;
  reversal: { authorizationId: number; reported: boolean } | null;
  /** The authorizer refused the reversal: a contradiction for a technician, not retried. */
  reversalRefused: { code: string; message: string } | null;
  /** Why a transaction closed `unresolved`: for reconciliation with the issuer. */
  unresolved: { reason: UnresolvedReason; message: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** How many closed transactions the live ledger keeps, newest first, whatever the clock says. */
export interface ValueRetention {
  /** Closed transactions older than this are dropped at compaction (the newest `keepNewest` never). */
  closedMs: number;
  /** At most this many closed transactions are kept, live and in snapshots. */
  maxClosed: number;
  /** This many closed transactions are kept even when older than `closedMs` (a clock jumped forward). */
  keepNewest: number;
}

export const DEFAULT_RETENTION: ValueRetention = {
  closedMs: 30 * 86_400_000,
  maxClosed: 100_000,
  keepNewest: 2_048,
};

/**
 * Every transaction the ledger keeps, open or closed, by id. Open ones are live objects the
 * reducer moves on; closed ones are kept compact (`closed`) and decoded when asked for, so that
 * what `get` returns for a closed transaction is a copy.
 */
export class TxTable {
  readonly live = new Map<string, ValueTx>();
  constructor(readonly closed: ClosedStore<ValueTx>) {}

  get size(): number {
    return this.live.size + this.closed.size;
  }

  has(txId: string): boolean {
    return this.live.has(txId) || this.closed.has(txId);
  }

  get(txId: string): ValueTx | undefined {
    return this.live.get(txId) ?? this.closed.get(txId);
  }

  /** Closed ones oldest first, then the open ones. */
  *values(): IterableIterator<ValueTx> {
    yield* this.closed.values();
    yield* this.live.values();
  }
}

export interface ValueState extends LedgerIndexes {
  txs: TxTable;
  /** The closed transactions in the order they closed: the retention cap drops the oldest. */
  closed: ClosedStore<ValueTx>;
  byRequest: Map<string, string>;
  readonly retention: ValueRetention;
}

export function emptyValueState(retention: ValueRetention = DEFAULT_RETENTION): ValueState {
  const closed = new ClosedStore(closedTxCodec);
  return { txs: new TxTable(closed), closed, byRequest: new Map(), retention, ...emptyIndexes() };
}

export function isOpen(tx: ValueTx): boolean {
  return tx.phase !== "applied" && tx.phase !== "failed" && tx.phase !== "unresolved";
}

function newTx(b: z.output<(typeof ValueRecords)["value.requested"]>): ValueTx {
  return {
    txId: b.txId,
    requestId: b.requestId,
    kind: b.kind,
    reader: b.reader,
    amount: b.amount,
    currency: b.currency,
    phase: "requested",
    cardId: null,
    counter: null,
    balanceBefore: null,
    authorizerRef: null,
    authorizationId: null,
    message: null,
    balanceAfter: null,
    proof: null,
    restored: null,
    error: null,
    reversal: null,
    reversalRefused: null,
    unresolved: null,
    createdAt: b.at,
    updatedAt: b.at,
  };
}

/**
 * Rebuilds the ledger from committed records; the same function serves live appends and replay.
 * Pure in the records alone (no clock), so a replay reaches the state the live run had.
 */
export function reduceValue(state: ValueState, r: JournalRecord<ValueRecords>): ValueState {
  if (r.type === "value.requested") {
    if (state.txs.has(r.body.txId)) return state;
    const tx = newTx(r.body);
    state.txs.live.set(tx.txId, tx);
    state.byRequest.set(tx.requestId, tx.txId);
    indexTx(state, tx);
    return state;
  }
  const live = state.txs.live.get(r.body.txId);
  // A step on a closed one (a reversal reported) is applied to its decoded copy, kept again.
  const tx = live ?? state.closed.get(r.body.txId);
  if (tx === undefined) return state;
  const before = indexedOf(tx);
  tx.updatedAt = r.body.at;
  applyStep(tx, r);
  // A closed transaction never opens again: such a step (a journal that says so) changes nothing.
  if (!before.open && isOpen(tx)) return state;
  reindexTx(state, tx, before);
  if (isOpen(tx)) return state;
  if (live !== undefined) state.txs.live.delete(tx.txId);
  state.closed.add(tx.txId, tx);
  if (before.open) pruneClosed(state);
  return state;
}

function applyStep(tx: ValueTx, r: JournalRecord<ValueRecords>): void {
  switch (r.type) {
    case "value.authorizing":
      Object.assign(tx, {
        phase: "authorizing",
        cardId: r.body.cardId,
        counter: r.body.counter,
        balanceBefore: r.body.balanceBefore,
        authorizerRef: r.body.authorizerRef ?? null,
      });
      break;
    case "value.authorized":
      Object.assign(tx, {
        phase: "authorized",
        authorizationId: r.body.authorizationId,
        message: r.body.message,
      });
      break;
    case "value.debiting":
      Object.assign(tx, {
        phase: "debiting",
        cardId: r.body.cardId,
        counter: r.body.message.counter,
        balanceBefore: r.body.balanceBefore,
        message: r.body.message,
      });
      break;
    case "value.applied":
      Object.assign(tx, {
        phase: "applied",
        balanceAfter: r.body.balanceAfter,
        proof: r.body.proof,
        restored: r.body.restored,
        error: null,
      });
      break;
    case "value.failed":
      Object.assign(tx, {
        phase: "failed",
        error: { code: r.body.code, message: r.body.message },
        reversal: r.body.reversal,
      });
      break;
    case "value.unresolved":
      Object.assign(tx, {
        phase: "unresolved",
        error: null,
        unresolved: { reason: r.body.reason, message: r.body.message },
      });
      break;
    case "value.reversal-reported":
      if (tx.reversal !== null) tx.reversal = { ...tx.reversal, reported: true };
      break;
    case "value.reversal-refused":
      tx.reversalRefused = { code: r.body.code, message: r.body.message };
      break;
    case "value.requested":
      break;
  }
}

/**
 * Oldest closed first out, beyond the cap: live memory stays bounded over a long day. A failed one
 * whose reversal is still to report is kept, whatever the cap, until it is reported: forgetting it
 * would leave an authorization the issuer counts as spent.
 */
function pruneClosed(state: ValueState): void {
  // Moved to the newest end in a row: once that is every one kept, only such ones are left.
  let passed = 0;
  while (state.closed.size > state.retention.maxClosed) {
    const oldest = state.closed.dropOldest();
    if (oldest === undefined) return;
    if (state.unreported.has(oldest.id)) {
      state.closed.addEncoded(oldest.id, oldest.encoded);
      if (++passed >= state.closed.size) return;
      continue;
    }
    passed = 0;
    // Its load stays in the day's total: forgetting a transaction must not raise the limit.
    const requestId = closedRequestId(oldest.encoded);
    if (state.byRequest.get(requestId) === oldest.id) state.byRequest.delete(requestId);
  }
}

export const TxSnapshot = z.object({
  txId: z.string(),
  requestId: z.string(),
  kind: ValueKind,
  reader: z.string(),
  amount: Money,
  currency: z.number().int(),
  phase: z.enum(PHASES),
  cardId: TargetId.nullable(),
  counter: Counter.nullable(),
  balanceBefore: Money.nullable(),
  // Snapshots written before the exchange was journaled have none.
  authorizerRef: AuthorizerRef.nullable().default(null),
  authorizationId: z.number().int().nullable(),
  message: StoredMessage.nullable(),
  balanceAfter: Money.nullable(),
  proof: Proof.nullable(),
  restored: z.enum(["already-applied", "resent"]).nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  reversal: z.object({ authorizationId: z.number().int(), reported: z.boolean() }).nullable(),
  reversalRefused: z.object({ code: z.string(), message: z.string() }).nullable().default(null),
  unresolved: z.object({ reason: UnresolvedReason, message: z.string() }).nullable().default(null),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/**
 * Which closed transactions a snapshot keeps, as ids in closing order: those younger than
 * `closedMs`, counted back from the newest record rather than from the clock alone (a clock jumped
 * forward would forget them all), never fewer than the newest `keepNewest`, and every one whose
 * reversal is still to report.
 */
export function retainedClosed(s: ValueState, nowMs: number = Date.now()): string[] {
  const { closedMs, keepNewest } = s.retention;
  const ids = [...s.closed.ids()];
  const updated = ids.map((id) => closedUpdatedMs(s.closed.encoded(id) as string) || 0);
  let newest = 0;
  for (const ms of updated) newest = Math.max(newest, ms);
  for (const tx of s.txs.live.values()) newest = Math.max(newest, Date.parse(tx.updatedAt) || 0);
  const cutoff = Math.min(nowMs, newest) - closedMs;
  return ids.filter(
    (id, i) => i >= ids.length - keepNewest || (updated[i] as number) >= cutoff || s.unreported.has(id),
  );
}

/**
 * Open transactions in full, checked at load; closed ones as the closed store keeps them (ids and
 * encodings side by side), checked when read. Snapshots written before kept every transaction in
 * `txs`: the closed ones among them are moved to the store at load.
 */
const ValueSnapshot = z
  .object({
    /** Every transaction, open or closed: snapshots written before closed ones were kept encoded. */
    txs: z.array(TxSnapshot).optional(),
    /**
     * The open ones, under a name of their own: a daemon from before reads a snapshot without `txs`
     * as damaged and stops, rather than as a ledger with no closed transactions.
     */
    open: z.array(TxSnapshot).optional(),
    closedIds: z.array(z.string()).default([]),
    closed: z.array(z.string()).default([]),
    /** The indexes that closed transactions feed, so that a load need not decode them. */
    loadTotals: z.array(z.tuple([z.string(), z.number()])).optional(),
    unreported: z.array(z.string()).optional(),
  })
  .refine((s) => s.closedIds.length === s.closed.length, "closedIds and closed differ in length")
  .refine((s) => (s.txs === undefined) !== (s.open === undefined), "one of txs or open is needed");

/** Compaction keeps the open transactions and the closed ones `retainedClosed` keeps, in closing order. */
export const valueSnapshot = (retention: ValueRetention | number = DEFAULT_RETENTION) => {
  const r: ValueRetention =
    typeof retention === "number" ? { ...DEFAULT_RETENTION, closedMs: retention } : retention;
  return {
    schema: ValueSnapshot,
    save: (s: ValueState) => {
      const closedIds = retainedClosed(s);
      const closed = closedIds.map((id) => s.closed.encoded(id) as string);
      // Every reversal still to report is kept (retainedClosed), so the index goes whole.
      return {
        open: [...s.txs.live.values()],
        closedIds,
        closed,
        loadTotals: [...s.loadTotals],
        unreported: [...s.unreported],
      };
    },
    load: (snap: z.output<typeof ValueSnapshot>): ValueState => {
      const state = emptyValueState(r);
      snap.closedIds.forEach((id, i) => {
        const encoded = snap.closed[i] as string;
        state.closed.addEncoded(id, encoded);
        state.byRequest.set(closedRequestId(encoded), id);
      });
      for (const tx of snap.txs ?? snap.open ?? []) {
        if (isOpen(tx)) state.txs.live.set(tx.txId, { ...tx });
        else state.closed.add(tx.txId, tx);
        state.byRequest.set(tx.requestId, tx.txId);
        indexTx(state, tx);
      }
      // What closed ones feed the indexes with was saved with them (a snapshot from before: the
      // closed ones were among `txs` and indexed above).
      if (snap.loadTotals !== undefined) state.loadTotals = new Map(snap.loadTotals);
      if (snap.unreported !== undefined) state.unreported = new Set(snap.unreported);
      pruneClosed(state);
      return state;
    },
  };
};

/** What `openJournal` needs for the value ledger, with its retention: the daemon, the CLI and tests. */
export function valueJournalOptions(retention: ValueRetention = DEFAULT_RETENTION) {
  return {
    types: ValueRecords,
    initialState: () => emptyValueState(retention),
    reduce: reduceValue,
    snapshot: valueSnapshot(retention),
  };
}
