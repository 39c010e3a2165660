import { desfireCardKey, desfireMasterKey, KeyNo } from "../protocol/index.js";

export const KEY_DEBIT = KeyNo.DEBIT;
export const KEY_CREDIT = KeyNo.CREDIT;

/** The master keys of key numbers 0, 1 and 2, as a card is issued with (simulators, issuing). */
export function desfireMasterKeys(samMasterKey: Buffer): Buffer[] {
  return [KeyNo.APP_MASTER, KeyNo.DEBIT, KeyNo.CREDIT].map((n) => desfireMasterKey(samMasterKey, n));
}

/** A card's key for `keyNo`, as the SAM derives it for the card's UID. */
export function samDesfireCardKey(samMasterKey: Buffer, keyNo: number, uid: Buffer): Buffer {
  return desfireCardKey(desfireMasterKey(samMasterKey, keyNo), uid);
}
