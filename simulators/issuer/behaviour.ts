import { z } from "zod";
import { MAX_MONEY } from "../../src/purse/messages/index.js";

/** The API operations faults can be aimed at. */
export const Operation = z.enum(["open", "verify", "authorize", "complete", "reversal", "find", "end"]);
export type Operation = z.infer<typeof Operation>;

/**
 * How the simulated issuer misbehaves, for tests. Unset fields are off. Faults (`stall`, `delayMs`,
 * `fail`, `drop`) hit the operations in `on` (all when unset); `when` says whether the request is
 * carried out first (the answer is what gets lost: the worst case for the terminal) or not at all.
 */
export const IssuerBehaviour = z
  .object({
    /** The issuer's own "no": every new authorization, or those above an amount. */
    decline: z
      .union([z.literal("all"), z.object({ above: z.number().int().min(0).max(MAX_MONEY) }).strict()])
      .optional(),
    /** Hold answers until released (`release()`, POST /admin/release, or a behaviour without stall). */
    stall: z.boolean().optional(),
    /** Answer this late. */
    delayMs: z.number().int().min(0).max(600_000).optional(),
    /** Answer 500 INTERNAL. */
    fail: z.boolean().optional(),
    /** Send the head and half the body, then cut the connection. */
    drop: z.boolean().optional(),
    on: z.array(Operation).optional(),
    when: z.enum(["before-commit", "after-commit"]).optional(),
    /** Faults hit this many requests, then clear themselves; unset: until changed. */
    times: z.number().int().min(1).max(1_000_000).optional(),
  })
  .strict();
export type IssuerBehaviour = z.infer<typeof IssuerBehaviour>;

export function hasFaults(b: IssuerBehaviour): boolean {
  return b.stall === true || (b.delayMs ?? 0) > 0 || b.fail === true || b.drop === true;
}

export function declines(b: IssuerBehaviour, amount: number): boolean {
  if (b.decline === undefined) return false;
  return b.decline === "all" || amount > b.decline.above;
}
