import { TermhostError } from "../errors/errors.js";
import { loadTotalKey } from "./ledger-index.js";
import type { ValueState } from "./records.js";

export interface ValueLimits {
  /** A load may not take a card's balance above this (minor units). */
  maxBalance: number;
  maxSingleLoad: number;
  maxSingleDebit: number;
  /** Loads this terminal may authorize per UTC day, in total, in each currency. */
  dailyLoadTotal: number;
}

export interface CheckedRequest {
  amount: number;
  currency: number;
}

/**
 * The terminal's own limits on a card load or debit, checked before anything is journaled. Loads
 * count per currency: minor units of two currencies never add up. `inFlight` is what loads accepted
 * but not yet journaled add to today's total.
 */
export function checkCardRequest(
  kind: "load" | "debit",
  req: CheckedRequest,
  o: { currencies: readonly number[]; limits: ValueLimits; state: ValueState; inFlight: number; day: string },
): void {
  const { limits } = o;
  if (!o.currencies.includes(req.currency)) {
    throw new TermhostError("VALUE_REFUSED", `currency ${req.currency} is not accepted by this terminal`, {
      hint: "see value.currencies in the configuration",
    });
  }
  const max = kind === "load" ? limits.maxSingleLoad : limits.maxSingleDebit;
  if (req.amount > max) {
    throw new TermhostError("LIMIT_EXCEEDED", `${req.amount} is above the single ${kind} limit of ${max}`, {
      context: { limit: max },
    });
  }
  if (kind !== "load") return;
  const today = (o.state.loadTotals.get(loadTotalKey(o.day, req.currency)) ?? 0) + o.inFlight;
  if (today + req.amount > limits.dailyLoadTotal) {
    throw new TermhostError("LIMIT_EXCEEDED", `this load would take today's loads to ${today + req.amount}`, {
      hint: `the terminal's daily load total is ${limits.dailyLoadTotal} in each currency`,
      context: { limit: limits.dailyLoadTotal, today, currency: req.currency },
    });
  }
}
