import { diversifyKey } from "../../crypto/diversify.js";
import { desfireCardKey, KeyNo } from "../protocol/index.js";

export const KEY_DEBIT = KeyNo.DEBIT;
export const KEY_CREDIT = KeyNo.CREDIT;

/**
 * The master key of one DESFire key number, kept by the SAM only: derived from the SAM's issuer
 * master key with its own label, so one SAM secret serves the purse and DESFire without the two
 * ever sharing a key (and a well-known SAM key gives well-known DESFire keys, which production
 * mode refuses with it).
 */
export function desfireMasterKey(samMasterKey: Buffer, keyNo: number): Buffer {
  return diversifyKey(samMasterKey, Buffer.from([keyNo]), "TERMHOST DESFIRE MASTER KEY");
}

/** The master keys of key numbers 0, 1 and 2, as a card is issued with (simulators, issuing). */
export function desfireMasterKeys(samMasterKey: Buffer): Buffer[] {
  return [KeyNo.APP_MASTER, KeyNo.DEBIT, KeyNo.CREDIT].map((n) => desfireMasterKey(samMasterKey, n));
}

/** A card's key for `keyNo`, as the SAM derives it for the card's UID. */
export function samDesfireCardKey(samMasterKey: Buffer, keyNo: number, uid: Buffer): Buffer {
  return desfireCardKey(desfireMasterKey(samMasterKey, keyNo), uid);
}
