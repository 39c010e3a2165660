import { z } from "zod";
import { MeterName } from "./ledger/records.js";
import { MAX_REFILL_AMOUNT } from "./protocol/constants.js";

/** 5,000.00 in a two-decimal currency: a few months of a busy kiosk's postage, far below the wire's bound. */
export const DEFAULT_MAX_REFILL = 500_000;

import type { LedgerRetention } from "./ledger/state.js";

const Key = z.string().regex(/^[0-9a-f]{32}$/, "16-byte key as lowercase hex");

export const PostageMeterConfig = z
  .object({
    /** Name of a profile in <profiles.dir>/meters. */
    profile: MeterName,
    /** Overrides the profile's port (e.g. the host end of a simulator's pty pair). */
    port: z.string().min(1).max(200).optional(),
    baudRate: z.number().int().min(1200).max(4_000_000).optional(),
    /** A simulated meter's vendor key: the daemon then signs refills itself. Never for a real meter. */
    vendorKey: Key.optional(),
  })
  .strict();

export const PostageConfig = z
  .object({
    /** Meters the daemon runs; none by default. */
    meters: z.array(PostageMeterConfig).max(16).default([]),
    /** The reservation journal; `<stateDir>/postage.journal` when absent. */
    journalPath: z.string().min(1).optional(),
    /** Line timers beyond the wire time (docs/meter-protocol.md); defaults suit a real meter. */
    ackMarginMs: z.number().int().min(5).max(10_000).optional(),
    responseMarginMs: z.number().int().min(10).max(60_000).optional(),
    backoffInitialMs: z.number().int().min(5).max(10_000).optional(),
    backoffMaxMs: z.number().int().min(10).max(60_000).optional(),
    /** Finished batches answer status and request-id replays this long after they closed… */
    retainFinishedDays: z.number().int().min(1).max(3650).default(30),
    /** …the oldest forgotten first past this many of them, or past this many pieces in them (memory). */
    retainFinishedBatches: z.number().int().min(100).max(200_000).default(20_000),
    retainFinishedPieces: z.number().int().min(1000).max(200_000).default(100_000),
    /** The largest refill one `postage.refill` may ask for, in the meter's minor units. */
    maxRefillAmount: z.number().int().min(1).max(MAX_REFILL_AMOUNT).default(DEFAULT_MAX_REFILL),
  })
  .strict();
export type PostageConfig = z.infer<typeof PostageConfig>;

/** The ledger's retention of finished batches, as configured. */
export function retentionOf(c: PostageConfig): LedgerRetention {
  return {
    days: c.retainFinishedDays,
    maxBatches: c.retainFinishedBatches,
    maxPieces: c.retainFinishedPieces,
  };
}
