import { z } from "zod";
import { PrintRequest } from "../protocol/index.js";
import { BatchOutcome, InsufficientProcedure, PieceSpec } from "./records.js";

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
