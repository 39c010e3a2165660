import { TermhostError } from "../../errors/errors.js";

/**
 * A DESFire card's id in termhost's one 8-byte card-id space (the authorizer's ledger, the value
 * journal): 0xDF, then the card's 7-byte UID. Purse ids never begin with 0xDF, so the two families
 * cannot name the same card.
 */
export const DESFIRE_ID_PREFIX = 0xdf;

export function desfireCardId(uid: Buffer): Buffer {
  if (uid.length !== 7) {
    throw new TermhostError("APDU_MALFORMED", `a DESFire UID is 7 bytes, the card gave ${uid.length}`, {
      hint: "the card is not a DESFire EV1/EV2 card with a 7-byte UID",
    });
  }
  return Buffer.concat([Buffer.from([DESFIRE_ID_PREFIX]), uid]);
}

export function uidOf(cardId: Buffer): Buffer {
  return cardId.subarray(1);
}

export const isDesfireCardId = (cardId: Buffer): boolean =>
  cardId.length === 8 && cardId[0] === DESFIRE_ID_PREFIX;
