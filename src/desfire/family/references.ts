import { createHash } from "node:crypto";

/** A debit's 8-byte reference in the card's log: the transaction's own, so restore can find it. */
export function debitReference(txId: string): Buffer {
  return createHash("sha256").update(`termhost debit ${txId}`).digest().subarray(0, 8);
}
