import { an10922DiversifyAes128 } from "../../crypto/an10922.js";
import { diversificationInput, TERMHOST_AID } from "./layout.js";

/** A card's application key: AN10922 AES-128 from the key number's master key, UID ‖ AID ‖ "TERMHOST". */
export function desfireCardKey(masterKey: Buffer, uid: Buffer, aid: Buffer = TERMHOST_AID): Buffer {
  return an10922DiversifyAes128(masterKey, diversificationInput(uid, aid));
}

/**
 * The simulators' DESFire master keys for key numbers 0, 1, 2 (public, like the purse's
 * SIMULATOR_MASTER_KEY_HEX): never on a production card.
 */
export const SIMULATOR_DESFIRE_MASTER_KEYS_HEX: readonly [string, string, string] = [
  "d0e5f1c7a0b24c6e9a3b7d51e8c40f00",
  "d0e5f1c7a0b24c6e9a3b7d51e8c40f01",
  "d0e5f1c7a0b24c6e9a3b7d51e8c40f02",
];
