/**
 * A small ledger of open transactions: the record types the journal's tests, fault-test child
 * process and benchmark share. Opens carry an amount; a close removes the transaction from live state.
 */
import { z } from "zod";
import type { JournalOptions } from "../../../src/journal/index.js";

export const ledgerTypes = {
  "txn.open": z.object({
    id: z.string().min(1).max(64),
    amount: z.number().int().nonnegative().max(1_000_000_000_000),
    note: z.string().max(2000).optional(),
  }),
  "txn.close": z.object({ id: z.string().min(1).max(64) }),
};
export type LedgerTypes = typeof ledgerTypes;

export interface Ledger {
  readonly open: Map<string, number>;
  /** Ids of closed transactions, kept only when a test needs to see them. */
  readonly closed: Set<string> | null;
  closedCount: number;
}

const snapshotSchema = z.object({
  open: z.array(z.tuple([z.string(), z.number().int()])),
  closed: z.array(z.string()).nullable(),
  closedCount: z.number().int().nonnegative(),
});
export type LedgerSnapshot = z.output<typeof snapshotSchema>;

export function ledgerOptions(
  path: string,
  opts: { keepClosedIds?: boolean } & Partial<JournalOptions<LedgerTypes, Ledger, LedgerSnapshot>> = {},
): JournalOptions<LedgerTypes, Ledger, LedgerSnapshot> {
  const { keepClosedIds = true, ...rest } = opts;
  return {
    path,
    types: ledgerTypes,
    initialState: () => ({ open: new Map(), closed: keepClosedIds ? new Set() : null, closedCount: 0 }),
    reduce: (s, r) => {
      if (r.type === "txn.open") {
        s.open.set(r.body.id, r.body.amount);
      } else if (s.open.delete(r.body.id)) {
        s.closedCount++;
        s.closed?.add(r.body.id);
      }
      return s;
    },
    snapshot: {
      schema: snapshotSchema,
      save: (s) => ({
        open: [...s.open],
        closed: s.closed === null ? null : [...s.closed],
        closedCount: s.closedCount,
      }),
      load: (snap) => ({
        open: new Map(snap.open),
        closed: snap.closed === null ? null : new Set(snap.closed),
        closedCount: snap.closedCount,
      }),
    },
    ...rest,
  };
}

/** A comparable, order-independent picture of a ledger. */
export function ledgerView(s: Ledger): {
  open: [string, number][];
  closed: string[] | null;
  closedCount: number;
} {
  return {
    open: [...s.open].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)),
    closed: s.closed === null ? null : [...s.closed].sort(),
    closedCount: s.closedCount,
  };
}
