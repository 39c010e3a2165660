import { TermhostError } from "../../errors/errors.js";
import { formatZodIssues } from "../../errors/zod-format.js";
import type { ClosedCodec } from "../../util/closed-store.js";
import { BatchEntry } from "./batch-entry.js";
import type { PieceSpec } from "./records.js";

/**
 * A finished batch as one JSON array, fields by position, no names:
 *   [batchId, requestId, meter, currency, openedAt, closedAt, outcome, requestedPieces,
 *    onInsufficient, reserved, remaining, released, pieces, indicia, voided, unresolved, reason,
 *    pending]
 * pieces as [amount, class, origin, destination, currency] (destination null when absent, and both
 * left off when the currency is the batch's), indicia as [pieceIndex, txnId, sequence, mac, date,
 * amount] (the date left off, or null, when it is the previous indicium's, the amount when it is its
 * piece's), unresolved intents as [pieceIndex, txnId, amount, reason]. The last four fields are what
 * a finished batch nearly always holds at its default (0, [], null, null) and are left off from the
 * end then.
 * The order is the format: a change of it is a change of the snapshot format.
 */
export const batchCodec: ClosedCodec<BatchEntry> = {
  encode(b: BatchEntry): string {
    const a: unknown[] = [
      b.batchId,
      b.requestId,
      b.meter,
      b.currency,
      b.openedAt,
      b.closedAt,
      b.outcome,
      b.requestedPieces,
      b.onInsufficient,
      b.reserved,
      b.remaining,
      b.released,
      b.pieces.map((p) => encodePiece(p, b.currency)),
      encodeIndicia(b),
      b.voided,
      b.unresolved.map((u) => [u.pieceIndex, u.txnId, u.amount, u.reason]),
      b.reason,
      b.pending === null ? null : [b.pending.pieceIndex, b.pending.request],
    ];
    while (a.length > DEFAULTS_FROM && isDefault(a[a.length - 1])) a.pop();
    return JSON.stringify(a);
  },

  decode(encoded: string): BatchEntry {
    let entry: unknown;
    try {
      entry = fromArray(JSON.parse(encoded));
    } catch (e) {
      throw invalid((e as Error).message, encoded, e);
    }
    const parsed = BatchEntry.safeParse(entry);
    if (!parsed.success) throw invalid(formatZodIssues(parsed.error).join("; "), encoded, parsed.error);
    return parsed.data;
  },
};

/** voided, unresolved, reason and pending: left off from the end while at their default. */
const DEFAULTS_FROM = 14;

function isDefault(v: unknown): boolean {
  return v === 0 || v === null || (Array.isArray(v) && v.length === 0);
}

function encodePiece(p: PieceSpec, currency: string): unknown[] {
  const a: unknown[] = [p.amount, p.class, p.origin, p.destination ?? null];
  if (p.currency !== currency) a.push(p.currency);
  else if (p.destination === undefined) a.pop();
  return a;
}

function encodeIndicia(b: BatchEntry): unknown[][] {
  let date: string | undefined;
  return b.indicia.map((i) => {
    const a: unknown[] = [i.pieceIndex, i.txnId, i.sequence, i.mac, i.date === date ? null : i.date];
    if (i.amount !== b.pieces[i.pieceIndex]?.amount) a.push(i.amount);
    else if (a[4] === null) a.pop();
    date = i.date;
    return a;
  });
}

/** Names the fields again; anything of the wrong shape is left for the schema to refuse. */
function fromArray(a: unknown): unknown {
  if (!Array.isArray(a)) throw new Error("not an array");
  const currency = a[3];
  const list = (v: unknown): unknown[][] => {
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every(Array.isArray)) throw new Error("a list that is not of arrays");
    return v as unknown[][];
  };
  const pending = a[17] ?? null;
  if (pending !== null && !Array.isArray(pending)) throw new Error("pending is not an array");
  const pieces = list(a[12]).map((p) => ({
    amount: p[0],
    class: p[1],
    origin: p[2],
    ...(p[3] === null || p[3] === undefined ? {} : { destination: p[3] }),
    currency: p[4] ?? currency,
  }));
  let date: unknown;
  const indicia = list(a[13]).map((i) => {
    date = i[4] ?? date;
    const piece = typeof i[0] === "number" ? pieces[i[0]] : undefined;
    return { pieceIndex: i[0], txnId: i[1], sequence: i[2], mac: i[3], date, amount: i[5] ?? piece?.amount };
  });
  return {
    batchId: a[0],
    requestId: a[1],
    meter: a[2],
    currency,
    openedAt: a[4],
    closedAt: a[5],
    outcome: a[6],
    requestedPieces: a[7],
    onInsufficient: a[8],
    reserved: a[9],
    remaining: a[10],
    released: a[11],
    pieces,
    indicia,
    voided: a[14] ?? 0,
    unresolved: list(a[15]).map((u) => ({ pieceIndex: u[0], txnId: u[1], amount: u[2], reason: u[3] })),
    reason: a[16] ?? null,
    pending: pending === null ? null : { pieceIndex: pending[0], request: pending[1] },
  };
}

function invalid(why: string, encoded: string, cause: unknown): TermhostError {
  return new TermhostError(
    "JOURNAL_RECORD_INVALID",
    `a finished batch in the postage ledger does not decode: ${why}`,
    {
      cause,
      context: { encoded: encoded.slice(0, 200) },
    },
  );
}
