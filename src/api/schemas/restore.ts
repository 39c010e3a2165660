import { z } from "zod";
import { RequestIdSchema, ValueTransaction } from "./value.js";

/** A value transaction as a technician sees it: the client view plus the card facts restore works from. */
export const RestoreEntry = ValueTransaction.extend({
  /** The card's transaction counter the stored message is bound to; null before the card was read. */
  counter: z.number().int().nullable(),
  authorizationId: z.number().int().nullable(),
});
export type RestoreEntry = z.infer<typeof RestoreEntry>;

const TxRef = z
  .object({ txId: z.string().min(1).max(100).optional(), requestId: RequestIdSchema.optional() })
  .strict();

/** Technician's methods over the value journal's open transactions (admin socket only). */
export const RestoreMethods = {
  "admin.restore.list": {
    description:
      "value transactions waiting to be settled (pending or restoring); with `all`, closed ones still in the journal too, newest first",
    params: z.object({ all: z.boolean().default(false) }).strict(),
    result: z.object({ transactions: z.array(RestoreEntry) }),
  },
  "admin.restore.retry": {
    description:
      "asks restore to settle one open transaction now from every reader holding a card; with waitMs, waits up to that long for it to close",
    params: TxRef.extend({ waitMs: z.number().int().min(0).max(120_000).default(0) })
      .strict()
      .refine(
        (p) => (p.txId === undefined) !== (p.requestId === undefined),
        "give exactly one of txId, requestId",
      ),
    result: z.object({
      transaction: RestoreEntry,
      /** Where restore was asked to look: readers holding a card (not the SAM's), or the refill's connected meters. */
      readers: z.array(z.string()),
    }),
  },
  "admin.restore.write-off": {
    description:
      "closes an open transaction whose card or meter will not come back as unresolved: nothing is reported for reversal; the note goes to the issuer's reconciliation",
    params: TxRef.extend({ note: z.string().trim().min(1).max(500) })
      .strict()
      .refine(
        (p) => (p.txId === undefined) !== (p.requestId === undefined),
        "give exactly one of txId, requestId",
      ),
    result: z.object({ transaction: RestoreEntry }),
  },
} as const;
