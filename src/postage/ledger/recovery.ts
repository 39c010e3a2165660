import type { Indicium, LastTransaction, Registers } from "../protocol/index.js";
import { type BatchEntry, type LedgerState, openBatches } from "./state.js";

/** What the meter's last transaction says about one journaled print intent, after a reconnection. */
export type PrintResolution =
  | { batchId: string; txnId: string; printed: true; indicium: Indicium }
  /** Not the last transaction: printed or not is for the piece count and the meter to tell. */
  | { batchId: string; txnId: string; printed: false };

/**
 * Sorts the open intents of a meter: the one that is the meter's last transaction was printed. For
 * the others the last transaction proves nothing — something may have happened at the meter after
 * the print (a test print, a refill at the meter, another host) — so `unexplained` counts the prints
 * the meter made that the ledger has not recorded: its piece count minus the mirror's minus those
 * found. While it is above zero, any other intent may have printed and only the meter can tell (a
 * resend with the same transaction id is answered from its memory); at zero none of them did.
 */
export function resolvePendingPrints(
  state: LedgerState,
  meter: string,
  registers: Registers,
  last: LastTransaction,
): { resolutions: PrintResolution[]; unexplained: number } {
  const resolutions: PrintResolution[] = openIntents(state, meter).map((b) => {
    const txnId = (b.pending as NonNullable<BatchEntry["pending"]>).request.txnId;
    if (last.kind === "print" && last.indicium.txnId === txnId)
      return { batchId: b.batchId, txnId, printed: true, indicium: last.indicium };
    return { batchId: b.batchId, txnId, printed: false };
  });
  const found = resolutions.filter((r) => r.printed).length;
  const mirror = state.meters.get(meter);
  const unexplained = mirror === undefined ? 0 : registers.pieceCount - mirror.pieceCount - found;
  return { resolutions, unexplained };
}

/**
 * A resend answered with an indicium: printed before the reconnection (its sequence is within the
 * piece count read then) and now only replayed, or printed by this resend.
 */
export function printedBefore(indicium: Indicium, atConnect: Registers): boolean {
  return indicium.sequence <= atConnect.pieceCount;
}

export function openIntents(state: LedgerState, meter: string): BatchEntry[] {
  return [...openBatches(state)].filter((b) => b.meter === meter && b.outcome === null && b.pending !== null);
}
