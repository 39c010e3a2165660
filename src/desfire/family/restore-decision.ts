import { isCardMessage, type RestoreDecision } from "../../value/devices.js";
import type { ValueTx } from "../../value/records.js";
import type { LogEntry } from "./card-ops.js";
import { debitReference } from "./references.js";

const hex = (b: Buffer): string => b.toString("hex");

/** The log entry a transaction writes: sequence number counter + 1, the terms, and its MAC or reference. */
export function entryOf(tx: ValueTx): LogEntry | undefined {
  const m = tx.message;
  if (!isCardMessage(m) || tx.balanceBefore === null) return undefined;
  const load = tx.kind === "load";
  if (load && m.s2 === undefined) return undefined;
  return {
    seq: m.counter + 1,
    kind: load ? "credit" : "debit",
    amount: m.amount,
    balanceAfter: load ? tx.balanceBefore + m.amount : tx.balanceBefore - m.amount,
    currency: m.currency,
    terminalId: Buffer.from(m.terminalId, "hex"),
    // A debit has no authorization: its place (sequence number), terms and terminal name it.
    authMac: load ? Buffer.from(m.s2 ?? "", "hex") : Buffer.alloc(8),
  };
}

/** What a completion proves: a credit's authorization MAC, or the debit's own reference. */
export function proofOf(tx: ValueTx, entry: LogEntry): string {
  return tx.kind === "load" ? hex(entry.authMac) : hex(debitReference(tx.txId));
}

export const sameEntry = (a: LogEntry, b: LogEntry): boolean =>
  a.seq === b.seq &&
  a.kind === b.kind &&
  a.amount === b.amount &&
  a.balanceAfter === b.balanceAfter &&
  a.currency === b.currency &&
  a.terminalId.equals(b.terminalId) &&
  a.authMac.equals(b.authMac);

/**
 * Restore on a DESFire card's terms: the credit (or debit) and its log entry commit together, so
 * the entry at our sequence number decides. The log is a cyclic file of a few entries: once the
 * card moved on past its window, whether ours landed cannot be read any more.
 */
export function decideDesfireRestore(tx: ValueTx, cardId: string, log: readonly LogEntry[]): RestoreDecision {
  const ours = entryOf(tx);
  if (tx.cardId !== cardId || ours === undefined) return { kind: "other-card" };
  const at = log.find((e) => e.seq === ours.seq);
  if (at !== undefined) {
    return sameEntry(at, ours)
      ? { kind: "applied", completion: { balanceAfter: at.balanceAfter, proof: proofOf(tx, at) } }
      : { kind: "stale", reason: `the card's log holds another transaction at ${ours.seq}` };
  }
  const highest = log.reduce((n, e) => Math.max(n, e.seq), 0);
  if (highest === ours.seq - 1) return { kind: "resend" };
  if (highest < ours.seq - 1) {
    return {
      kind: "ambiguous",
      reason: `the card's log ends at ${highest}, before the ${ours.seq - 1} it showed`,
    };
  }
  return {
    kind: "ambiguous",
    reason: `the card's log moved on to ${highest} and no longer holds ${ours.seq}`,
  };
}
