import type { LastTransaction, Registers } from "../protocol/index.js";
import type { BatchEntry, LedgerState } from "./state.js";

/** What the meter says about one journaled print intent, after a reconnection or a restart. */
export type PrintResolution =
  | {
      batchId: string;
      txnId: string;
      printed: true;
      indicium: Extract<LastTransaction, { kind: "print" }>["indicium"];
    }
  | { batchId: string; txnId: string; printed: false };

/**
 * Decides, for every open intent on a meter, whether the meter printed it. Prints to one meter are
 * sent one at a time and nothing is sent between the reconnection and this decision, so only the
 * meter's last transaction can be an intent we have not recorded: it was printed exactly when the
 * last transaction is a print carrying its transaction id. The piece count confirms it: it is the
 * mirror's count plus the number of prints found.
 */
export function resolvePendingPrints(
  state: LedgerState,
  meter: string,
  registers: Registers,
  last: LastTransaction,
): { resolutions: PrintResolution[]; pieceCountAgrees: boolean } {
  const pending = openIntents(state, meter);
  const resolutions: PrintResolution[] = pending.map((b) => {
    const txnId = (b.pending as NonNullable<BatchEntry["pending"]>).request.txnId;
    if (last.kind === "print" && last.indicium.txnId === txnId)
      return { batchId: b.batchId, txnId, printed: true, indicium: last.indicium };
    return { batchId: b.batchId, txnId, printed: false };
  });
  const found = resolutions.filter((r) => r.printed).length;
  const mirror = state.meters.get(meter);
  const pieceCountAgrees = mirror === undefined || mirror.pieceCount + found === registers.pieceCount;
  return { resolutions, pieceCountAgrees };
}

export function openIntents(state: LedgerState, meter: string): BatchEntry[] {
  return [...state.batches.values()].filter(
    (b) => b.meter === meter && b.outcome === null && b.pending !== null,
  );
}
