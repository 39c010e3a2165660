import { z } from "zod";
import { CURRENCY_CODES } from "../../purse/currency.js";

export const RequestIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, "printable ASCII without spaces");

const Amount = z.number().int().min(1).max(0x7fffffff);

export const ValueRequestParams = z
  .object({
    /** The PC/SC reader holding the card, as `system.status` lists it. */
    reader: z.string().min(1).max(200),
    /** Minor units (cents). */
    amount: Amount,
    /** ISO 4217 alphabetic code. */
    currency: z.enum(CURRENCY_CODES as [string, ...string[]]),
    /** Chosen by the client; the same id again returns the same transaction, never a second one. */
    requestId: RequestIdSchema,
  })
  .strict();

/**
 * `pending`: in progress. `restoring`: interrupted after the balance-increase message may have
 * reached the card; it will be settled from the card's own record (on re-insertion, reconnect or
 * restart). `applied` and `failed` are final.
 */
/**
 * pending: running; restoring: interrupted, waiting for its card or meter; applied, failed: final;
 * unresolved: closed without a verdict (the card moved on past it, or written off): neither
 * applied nor reversed, for reconciliation with the issuer (docs/value.md).
 */
export const ValueState = z.enum(["pending", "restoring", "applied", "failed", "unresolved"]);

export const ValueTransaction = z.object({
  txId: z.string(),
  requestId: z.string(),
  /** A refill is a postage meter's value increase (postage.refill). */
  kind: z.enum(["load", "debit", "refill"]),
  /** The reader holding the card; the meter's name for a refill. */
  reader: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  state: ValueState,
  /** The journaled step: requested, authorizing, authorized, debiting, applied, failed, unresolved. */
  phase: z.string(),
  /** The card's id; the meter's serial for a refill. */
  cardId: z.string().nullable(),
  balanceAfter: z.number().int().nullable(),
  /** How a restore settled it: the card had it already, or the stored message was sent again. */
  restored: z.enum(["already-applied", "resent"]).nullable(),
  /** The last error: why it failed, or why it waits for restore. */
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** An authorization that will never be applied, and whether the authorizer has been told. */
  reversal: z.object({ authorizationId: z.number().int(), reported: z.boolean() }).nullable(),
  /** The authorizer refused that reversal: not asked again; a technician reconciles it. */
  reversalRefused: z.object({ code: z.string(), message: z.string() }).nullable(),
  /** Why it closed unresolved: counter-moved-on, written-off or authorizer-applied. */
  unresolved: z.object({ reason: z.string(), message: z.string() }).nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ValueTransaction = z.infer<typeof ValueTransaction>;

export const ValueMethods = {
  "value.increase": {
    description:
      "load value onto the card in a reader: authenticate, authorize, journal, credit, verify; exactly once per requestId",
    params: ValueRequestParams,
    result: ValueTransaction,
  },
  "value.debit": {
    description: "take value off the card in a reader (a purchase); exactly once per requestId",
    params: ValueRequestParams,
    result: ValueTransaction,
  },
  "value.status": {
    description: "a value transaction by txId or requestId, e.g. after a reconnect",
    params: z
      .object({ txId: z.string().min(1).max(100).optional(), requestId: RequestIdSchema.optional() })
      .strict()
      .refine(
        (p) => (p.txId === undefined) !== (p.requestId === undefined),
        "give exactly one of txId, requestId",
      ),
    result: ValueTransaction,
  },
} as const;
