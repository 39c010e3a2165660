import { z } from "zod";
import {
  BatchOutcome,
  Currency,
  InsufficientProcedure,
  MAX_PIECES_PER_BATCH,
  MeterName,
  PieceSpec,
  RequestId,
} from "../../postage/ledger/records.js";

const Money = z
  .number()
  .int()
  .min(0)
  .max(2 ** 48 - 1);
const Registers = z.object({
  ascending: Money,
  descending: Money,
  controlTotal: Money,
  pieceCount: z.number().int().nonnegative(),
  batchCount: z.number().int().nonnegative(),
  batchValue: Money,
  serial: z.string(),
});

const MeterFunds = z.object({
  meter: z.string(),
  currency: Currency,
  connected: z.boolean(),
  balance: Money,
  reserved: Money,
  unreserved: z.number().int(),
  registers: Registers.nullable(),
  /** The meter's last GET STATUS: locked, a refill pending, the inspection due date (YYYY-MM-DD); null before it answered. */
  status: z
    .object({
      locked: z.boolean(),
      refillPending: z.boolean(),
      inspectionDue: z.string(),
      meterDate: z.string(),
    })
    .nullable(),
});

export const BatchState = z.enum([
  "waiting",
  "printing",
  "suspended",
  "recovering",
  ...BatchOutcome.options,
  "unresolved",
]);

export const BatchResult = z.object({
  batchId: z.string(),
  requestId: z.string(),
  meter: z.string(),
  state: BatchState,
  currency: z.string(),
  requestedPieces: z.number().int(),
  acceptedPieces: z.number().int(),
  printedPieces: z.number().int(),
  skippedPieces: z.number().int(),
  /** Minor units: reserved at the start, consumed by printed indicia, still held, released at the end. */
  reserved: Money,
  consumed: Money,
  remaining: Money,
  released: Money,
  reason: z.string().nullable(),
  /** Pieces the meter could not tell printed or not (state unresolved): held as spent; a technician checks them. */
  unresolved: z.array(
    z.object({ pieceIndex: z.number().int(), txnId: z.string(), amount: Money, reason: z.string() }),
  ),
  indicia: z.array(
    z.object({
      pieceIndex: z.number().int(),
      txnId: z.string(),
      sequence: z.number().int(),
      amount: Money,
      date: z.string(),
      mac: z.string(),
    }),
  ),
});
export type BatchResult = z.infer<typeof BatchResult>;

const BatchRef = z
  .object({ batchId: z.string().max(64).optional(), requestId: RequestId.optional() })
  .strict()
  .refine(
    (r) => (r.batchId === undefined) !== (r.requestId === undefined),
    "give exactly one of batchId, requestId",
  );

export const PostageMethods = {
  "postage.batch.start": {
    description:
      "reserve funds for a batch of indicia and print them one by one; the same requestId returns the same batch",
    params: z
      .object({
        meter: MeterName,
        pieces: z.array(PieceSpec).min(1).max(MAX_PIECES_PER_BATCH),
        requestId: RequestId,
        onInsufficient: InsufficientProcedure.default("reject"),
        waitTimeoutMs: z.number().int().min(0).max(600_000).optional(),
      })
      .strict(),
    result: BatchResult,
  },
  "postage.batch.status": {
    description: "a batch's state and indicia; with waitMs, waits up to that long for it to end",
    params: z
      .object({
        batchId: z.string().max(64).optional(),
        requestId: RequestId.optional(),
        waitMs: z.number().int().min(0).max(120_000).optional(),
      })
      .strict()
      .refine(
        (r) => (r.batchId === undefined) !== (r.requestId === undefined),
        "give exactly one of batchId, requestId",
      ),
    result: BatchResult,
  },
  "postage.batch.cancel": {
    description: "stop a batch after the piece in flight; the rest of its reservation is released",
    params: BatchRef,
    result: BatchResult,
  },
  "postage.balance": {
    description: "a meter's funds: balance, reserved for open batches, unreserved, and its registers",
    params: z.object({ meter: MeterName }).strict(),
    result: MeterFunds,
  },
  "postage.meters": {
    description:
      "every meter the daemon runs, with its funds as postage.balance gives them (none when no meter is configured)",
    params: z.object({}).strict(),
    result: z.object({ meters: z.array(MeterFunds) }),
  },
  "postage.refill": {
    description:
      "add funds to a meter with the vendor's authorization for this meter, amount, control total before, next inspection and the refill's transaction id",
    params: z
      .object({
        meter: MeterName,
        /** Minor units; at most postage.maxRefillAmount (LIMIT_EXCEEDED). */
        amount: z.number().int().min(1).max(100_000_000),
        /** When given, it must be the meter's currency (VALUE_REFUSED otherwise). */
        currency: Currency.optional(),
        nextInspection: z.iso.date(),
        requestId: RequestId,
        authorization: z
          .string()
          .regex(/^[0-9a-f]{32}$/, "16 bytes as lowercase hex")
          .optional(),
      })
      .strict(),
    result: z.object({
      requestId: z.string(),
      meter: z.string(),
      txnId: z.string(),
      amount: Money,
      state: z.enum(["pending", "applied"]),
      controlTotalAfter: Money.nullable(),
    }),
  },
} as const;
