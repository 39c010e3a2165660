import { TermhostError } from "../errors/errors.js";
import type { ClosedCodec } from "../util/closed-store.js";
import { PHASES, type StoredMessage, TxSnapshot, type ValueTx } from "./records.js";

/**
 * A closed transaction as one JSON array without field names, its id being the store's key:
 * about a quarter of the live object's memory. Times in the canonical ISO form travel as epoch
 * milliseconds (`createdAt` as its distance from `updatedAt`), a value message as its fields in
 * order, and trailing nulls are left off.
 * `updatedAt` and `requestId` come first, so that retention and the snapshot's request index can
 * read them without decoding the rest.
 */
const KINDS = ["load", "debit", "refill"] as const;
const RESTORED = ["already-applied", "resent"] as const;

type Slot = string | number | boolean | null | Slot[] | { [k: string]: unknown };

/** `toISOString`'s own form, the one every record the daemon writes has: it survives a trip through ms. */
const CANONICAL = /^\d{4}-\d\d-\d\dT(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
/** The last day seen to be a calendar date: a replay meets the same day thousands of times. */
let knownDay = "";
const time = (iso: string): string | number => {
  if (!CANONICAL.test(iso)) return iso;
  const day = iso.slice(0, 10);
  if (day !== knownDay) {
    // Date.parse rolls a 31st of April over into May: such a time stays as it was written.
    const ms = Date.parse(day);
    if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== day) return iso;
    knownDay = day;
  }
  return Date.parse(iso);
};
const fromTime = (t: unknown): unknown => (typeof t === "number" ? new Date(t).toISOString() : t);

/**
 * A value message as its fields in order, without the counter, amount and currency when they are
 * the transaction's own (as they are unless a card's answer said otherwise).
 */
function message(m: StoredMessage | null, tx: ValueTx): Slot {
  if (m === null || !("terminalId" in m)) return m;
  const own = m.counter === tx.counter && m.amount === tx.amount && m.currency === tx.currency;
  const fields: Slot[] = own ? [m.terminalId] : [m.counter, m.amount, m.currency, m.terminalId];
  if (m.s2 !== undefined) fields.push(m.s2);
  return fields;
}

type Own = { counter: unknown; amount: unknown; currency: unknown };
function fromMessage(m: unknown, own: Own): unknown {
  if (!Array.isArray(m)) return m;
  const full: unknown[] = typeof m[0] === "string" ? [own.counter, own.amount, own.currency, ...m] : m;
  const [counter, amount, currency, terminalId, s2] = full;
  return s2 === undefined
    ? { counter, amount, currency, terminalId }
    : { counter, amount, currency, terminalId, s2 };
}

/** `createdAt` beside `updatedAt` (slot 0): as milliseconds before it when both are, else as written. */
function created(tx: ValueTx, updated: string | number): string | number {
  const c = time(tx.createdAt);
  return typeof c === "number" && typeof updated === "number" ? updated - c : tx.createdAt;
}

export function encodeClosedTx(tx: ValueTx): string {
  const updated = time(tx.updatedAt);
  const slots: Slot[] = [
    updated,
    tx.requestId,
    created(tx, updated),
    KINDS.indexOf(tx.kind),
    tx.reader,
    tx.amount,
    tx.currency,
    PHASES.indexOf(tx.phase),
    tx.cardId,
    tx.counter,
    tx.balanceBefore,
    tx.authorizerRef,
    tx.authorizationId,
    message(tx.message, tx),
    tx.balanceAfter,
    tx.proof,
    tx.restored === null ? null : RESTORED.indexOf(tx.restored),
    tx.error === null ? null : [tx.error.code, tx.error.message],
    tx.reversal === null ? null : [tx.reversal.authorizationId, tx.reversal.reported],
    tx.reversalRefused === null ? null : [tx.reversalRefused.code, tx.reversalRefused.message],
    tx.unresolved === null ? null : [tx.unresolved.reason, tx.unresolved.message],
  ];
  let end = slots.length;
  while (end > 0 && slots[end - 1] === null) end--;
  return JSON.stringify(end === slots.length ? slots : slots.slice(0, end));
}

const pair = (v: unknown, a: string, b: string): unknown =>
  Array.isArray(v) ? { [a]: v[0], [b]: v[1] } : (v ?? null);

/**
 * Checked when read rather than when a snapshot is loaded: a closed transaction is history, and
 * checking a day of them at every start would cost the reopen most of its time. Open ones, which
 * restore acts on, are checked at load like every record.
 */
export function decodeClosedTx(encoded: string, txId: string): ValueTx {
  let s: unknown[];
  try {
    s = JSON.parse(encoded) as unknown[];
    if (!Array.isArray(s)) throw new Error("not an array");
  } catch (e) {
    throw corrupt(txId, e instanceof Error ? e.message : String(e));
  }
  const at = (i: number): unknown => s[i] ?? null;
  const updated = at(0);
  const since = at(2);
  const createdAt = typeof since === "number" && typeof updated === "number" ? updated - since : since;
  const parsed = TxSnapshot.safeParse({
    txId,
    updatedAt: fromTime(updated),
    requestId: at(1),
    createdAt: fromTime(createdAt),
    kind: KINDS[at(3) as number],
    reader: at(4),
    amount: at(5),
    currency: at(6),
    phase: PHASES[at(7) as number],
    cardId: at(8),
    counter: at(9),
    balanceBefore: at(10),
    authorizerRef: at(11),
    authorizationId: at(12),
    message: fromMessage(at(13), { counter: at(9), amount: at(5), currency: at(6) }),
    balanceAfter: at(14),
    proof: at(15),
    restored: at(16) === null ? null : RESTORED[at(16) as number],
    error: pair(at(17), "code", "message"),
    reversal: pair(at(18), "authorizationId", "reported"),
    reversalRefused: pair(at(19), "code", "message"),
    unresolved: pair(at(20), "reason", "message"),
  });
  if (!parsed.success) throw corrupt(txId, parsed.error.message);
  return parsed.data as ValueTx;
}

/** The `updatedAt` of an encoded transaction, in epoch ms, without decoding it (NaN if unknown). */
export function closedUpdatedMs(encoded: string): number {
  if (encoded[1] === '"') return Date.parse(stringAt(encoded, 1));
  const end = encoded.indexOf(",");
  return Number(encoded.slice(1, end < 0 ? encoded.length - 1 : end));
}

/** The `requestId` of an encoded transaction, read from its second slot without decoding the rest. */
export function closedRequestId(encoded: string): string {
  const first = encoded[1] === '"' ? stringEnd(encoded, 1) + 1 : encoded.indexOf(",");
  return stringAt(encoded, first + 1);
}

/** The JSON string whose opening quote is at `start`. */
function stringAt(encoded: string, start: number): string {
  return JSON.parse(encoded.slice(start, stringEnd(encoded, start) + 1)) as string;
}

/** Where the JSON string opened at `start` closes: the first quote no backslash escapes. */
function stringEnd(encoded: string, start: number): number {
  let i = start + 1;
  while (i < encoded.length && encoded[i] !== '"') i += encoded[i] === "\\" ? 2 : 1;
  return i;
}

function corrupt(txId: string, reason: string): TermhostError {
  return new TermhostError(
    "JOURNAL_CORRUPT",
    `the closed transaction ${txId} in the ledger does not decode`,
    {
      hint: "run `termhost journal verify` on the value journal; restore it from a backup if it fails",
      context: { txId, reason: reason.slice(0, 300) },
    },
  );
}

export const closedTxCodec: ClosedCodec<ValueTx> = { encode: encodeClosedTx, decode: decodeClosedTx };
