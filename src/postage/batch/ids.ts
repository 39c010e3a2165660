import { createHash, randomBytes } from "node:crypto";

export function newBatchId(): string {
  return `b-${randomBytes(8).toString("hex")}`;
}

/** A fresh transaction id for one piece: 16 random bytes, never reused for another piece. */
export function newPrintTxnId(): string {
  return randomBytes(16).toString("hex");
}

/**
 * A refill's transaction id follows from the meter serial and the client's request id, so the
 * vendor (or whoever obtains the authorization) can sign it before the refill is requested, and a
 * resent request can never become a second refill.
 */
export function refillTxnId(serial: string, requestId: string): string {
  return createHash("sha256")
    .update(`termhost refill\0${serial}\0${requestId}`, "utf8")
    .digest()
    .subarray(0, 16)
    .toString("hex");
}

/** Today's date in UTC, as the indicium carries it. */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}
