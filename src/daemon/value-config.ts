import { z } from "zod";
import { IssuerHostConfig } from "../authorize/issuer-host.js";
import { CURRENCY_CODES } from "../purse/currency.js";
import { DEFAULT_RETENTION, type ValueRetention } from "../value/records.js";

/** The simulators' terminal ("TERM0001"): production mode refuses it, the operator sets the real one. */
export const DEFAULT_TERMINAL_ID = "5445524D30303031";

const Money = z.number().int().min(1).max(0x7fffffff);

export const ValueConfig = z
  .object({
    /** Journal of value transactions (restore records); relative paths are inside stateDir. */
    journal: z.string().min(1).default("value.journal"),
    /** This terminal's id as the card and the authorizer see it: 8 bytes, hex. */
    terminalId: z
      .string()
      .regex(/^[0-9a-fA-F]{16}$/, "expected 8 bytes of hex")
      .default(DEFAULT_TERMINAL_ID),
    currencies: z
      .array(z.enum(CURRENCY_CODES as [string, ...string[]]))
      .min(1)
      .default(["EUR"]),
    /** Who authorizes loads: the SAM in a reader slot, or the issuer host over HTTPS. */
    authorizer: z
      .discriminatedUnion("kind", [
        z
          .object({
            kind: z.literal("sam"),
            /** The SAM's reader; found by the SAM's card profile when absent. */
            reader: z.string().min(1).optional(),
          })
          .strict(),
        IssuerHostConfig.extend({ kind: z.literal("issuer") }).strict(),
      ])
      .prefault({ kind: "sam" }),
    /**
     * MIFARE DESFire EV1/EV2 cards with termhost's value-file application, beside the purse
     * (docs/desfire.md). Needs the SAM authorizer, which holds the DESFire master keys.
     */
    desfire: z
      .object({
        /** The currency the cards' value file counts in; one of `currencies`. */
        currency: z.enum(CURRENCY_CODES as [string, ...string[]]).default("EUR"),
      })
      .strict()
      .optional(),
    limits: z
      .object({
        maxBalance: Money.default(100_000),
        maxSingleLoad: Money.default(50_000),
        maxSingleDebit: Money.default(50_000),
        dailyLoadTotal: Money.default(1_000_000),
      })
      .strict()
      .prefault({}),
    /** How often open transactions and unreported reversals are retried without a card event. */
    retryMs: z.number().int().min(100).max(600_000).default(2000),
    /** Closed transactions stay answerable by requestId this long (the newest 2,048 whatever the clock says). */
    retainClosedDays: z.number().int().min(1).max(3650).default(30),
    /** At most this many closed transactions are kept, oldest dropped first: bounds memory and snapshots. */
    retainClosedTransactions: z.number().int().min(2_048).max(200_000).default(100_000),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.desfire === undefined) return;
    if (v.authorizer.kind !== "sam")
      ctx.addIssue({
        code: "custom",
        path: ["desfire"],
        message: "DESFire cards need the SAM authorizer: it holds their master keys",
      });
    if (!v.currencies.includes(v.desfire.currency))
      ctx.addIssue({
        code: "custom",
        path: ["desfire", "currency"],
        message: `${v.desfire.currency} is not one of value.currencies`,
      });
  });
export type ValueConfig = z.infer<typeof ValueConfig>;

/** The value ledger's retention as configured (docs/value.md, "Idempotency and concurrency"). */
export function valueRetention(config: ValueConfig): ValueRetention {
  return {
    ...DEFAULT_RETENTION,
    closedMs: config.retainClosedDays * 86_400_000,
    maxClosed: config.retainClosedTransactions,
  };
}
