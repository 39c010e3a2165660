import { z } from "zod";
import { PrintRequest } from "../protocol/index.js";
import { IndiciumMac, IsoDate, Register, Text, TxnId } from "../protocol/messages/common.js";

/** Request ids are chosen by clients: any non-empty string up to this bound. */
export const RequestId = z.string().min(1).max(128);
export const BatchId = z.string().regex(/^b-[0-9a-f]{16}$/, "a batch id as the daemon issues it");
export const MeterName = z.string().min(1).max(64);
export const Currency = z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code such as EUR");
/** Minor units of one indicium, as the meter accepts them. */
export const PieceAmount = z.number().int().min(1).max(9_999_999);
export const MAX_PIECES_PER_BATCH = 1000;

export const InsufficientProcedure = z.enum(["reject", "partial", "wait"]);
export type InsufficientProcedure = z.infer<typeof InsufficientProcedure>;

export const PieceSpec = z
  .object({
    amount: PieceAmount,
    currency: Currency,
    /** Mail class code of the postal operator's tariff. */
    class: z.number().int().min(1).max(255),
    /** Origin postal code, printed in the indicium. */
    origin: Text.min(1),
    destination: z.string().min(1).max(64).optional(),
  })
  .strict();
export type PieceSpec = z.infer<typeof PieceSpec>;

export const BatchOutcome = z.enum(["completed", "cancelled", "interrupted", "failed"]);
export type BatchOutcome = z.infer<typeof BatchOutcome>;

/**
 * The postage journal's record types. Every change of a reservation, and every value-moving
 * command, is one of these on disk before it is acted on.
 */
export const LedgerRecords = {
  /** The meter's registers as read at a (re)connection: the balance mirror follows descending. */
  "meter.synced": z.object({
    meter: MeterName,
    serial: Text.min(1),
    ascending: Register,
    descending: Register,
    controlTotal: Register,
    pieceCount: Register,
  }),
  /** A batch's reservation, kept apart from the balance; checked against the unreserved balance first. */
  "reservation.opened": z.object({
    batchId: BatchId,
    requestId: RequestId,
    meter: MeterName,
    currency: Currency,
    amount: Register,
    /** The pieces reserved for (a prefix of the request when only part of it fits). */
    pieces: z.array(PieceSpec).min(1).max(MAX_PIECES_PER_BATCH),
    requestedPieces: z.number().int().min(1).max(MAX_PIECES_PER_BATCH),
    onInsufficient: InsufficientProcedure,
    openedAt: z.iso.datetime(),
  }),
  /** The transaction id of one piece, on disk before the PRINT leaves, so any resend reuses it. */
  "print.intent": z.object({
    batchId: BatchId,
    pieceIndex: z.number().int().min(0),
    request: PrintRequest,
  }),
  /** One printed indicium: one decrement of its reservation and of the balance. */
  "indicium.printed": z.object({
    batchId: BatchId,
    pieceIndex: z.number().int().min(0),
    txnId: TxnId,
    amount: PieceAmount,
    /** The meter's piece count after this print. */
    sequence: Register,
    descendingAfter: Register,
    date: IsoDate,
    mac: IndiciumMac,
  }),
  /** A journaled intent the meter did not print (refused, or found unprinted after a restart). */
  "print.voided": z.object({
    batchId: BatchId,
    pieceIndex: z.number().int().min(0),
    txnId: TxnId,
    reason: z.string().max(200),
  }),
  /**
   * A journaled intent whose fate the meter could not tell (it refused the resend that would have
   * answered it): held as spent, never released as unprinted, and shown until a technician checks.
   */
  "print.unresolved": z.object({
    batchId: BatchId,
    pieceIndex: z.number().int().min(0),
    txnId: TxnId,
    amount: PieceAmount,
    reason: z.string().max(200),
  }),
  /** The end of a batch's session: whatever is left of its reservation is released. */
  "reservation.closed": z.object({
    batchId: BatchId,
    outcome: BatchOutcome,
    released: Register,
    reason: z.string().max(200).optional(),
    /** When the batch ended; what retention counts from (journals written before it carry none). */
    closedAt: z.iso.datetime().optional(),
  }),
} as const;
export type LedgerRecords = typeof LedgerRecords;
export type LedgerBody<K extends keyof LedgerRecords> = z.infer<LedgerRecords[K]>;
