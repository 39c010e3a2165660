import type { InsufficientProcedure, PieceSpec } from "./records.js";

export type ReservationPlan =
  | { kind: "reserve"; pieces: PieceSpec[]; amount: number }
  /** Not even the procedure's minimum fits: `needed` is what would have to be unreserved. */
  | { kind: "short"; needed: number; unreserved: number; shortfall: number };

/**
 * What a batch may reserve out of the unreserved balance. `reject` and `wait` need the whole batch;
 * `partial` takes the longest prefix of the pieces that fits (pieces are printed in order, so a
 * prefix is the part a client can act on), and is short only when not even the first piece fits.
 */
export function planReservation(
  pieces: readonly PieceSpec[],
  unreserved: number,
  procedure: InsufficientProcedure,
): ReservationPlan {
  const total = pieces.reduce((s, p) => s + p.amount, 0);
  if (total <= unreserved) return { kind: "reserve", pieces: [...pieces], amount: total };
  if (procedure !== "partial") return short(total, unreserved);
  let amount = 0;
  let n = 0;
  for (const p of pieces) {
    if (amount + p.amount > unreserved) break;
    amount += p.amount;
    n++;
  }
  if (n === 0) return short(pieces[0]?.amount ?? 0, unreserved);
  return { kind: "reserve", pieces: pieces.slice(0, n), amount };
}

function short(needed: number, unreserved: number): ReservationPlan {
  return { kind: "short", needed, unreserved, shortfall: needed - Math.max(0, unreserved) };
}
