import { an10922DiversifyAes128 } from "../../crypto/an10922.js";
import { diversifyKey } from "../../crypto/diversify.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../purse/messages/well-known-keys.js";
import { diversificationInput, TERMHOST_AID } from "./layout.js";

/** A card's application key: AN10922 AES-128 from the key number's master key, UID ‖ AID ‖ "TERMHOST". */
export function desfireCardKey(masterKey: Buffer, uid: Buffer, aid: Buffer = TERMHOST_AID): Buffer {
  return an10922DiversifyAes128(masterKey, diversificationInput(uid, aid));
}

/**
 * The master key of one DESFire key number, kept by the SAM only: derived from the SAM's issuer
 * master key with its own label, so one SAM secret serves the purse and DESFire without the two
 * ever sharing a key (and a well-known SAM key gives well-known DESFire keys, which production
 * mode refuses with it).
 */
export function desfireMasterKey(samMasterKey: Buffer, keyNo: number): Buffer {
  return diversifyKey(samMasterKey, Buffer.from([keyNo]), "TERMHOST DESFIRE MASTER KEY");
}

/**
 * The simulators' DESFire master keys for key numbers 0, 1, 2: those of the simulated SAM's
 * well-known key, so a simulated card and the simulated SAM work together. Never on a real card.
 */
export const SIMULATOR_DESFIRE_MASTER_KEYS_HEX = [0, 1, 2].map((n) =>
  desfireMasterKey(Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex"), n).toString("hex"),
) as unknown as readonly [string, string, string];
