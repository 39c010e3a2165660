import { TermhostError } from "../errors/errors.js";
import { aesCmac, requireAes128Key } from "./aes-cmac.js";

/** Label used for the purse application's per-card key unless a caller names another purpose. */
export const CARD_KEY_LABEL = "TERMHOST CARD KEY";

/**
 * Per-card AES-128 key from the issuer master key: a KDF in counter mode with AES-CMAC as PRF
 * (NIST SP 800-108), one block:
 *   K_card = CMAC(K_master, 0x01 || label || 0x00 || cardId || 0x0080)
 * The label separates purposes, so one master key can yield independent keys per use.
 */
export function diversifyKey(
  masterKey: Uint8Array,
  cardId: Uint8Array,
  label: string = CARD_KEY_LABEL,
): Buffer {
  requireAes128Key(masterKey, "master key");
  if (cardId.length < 1 || cardId.length > 32) {
    throw new TermhostError("KEY_INVALID", `card id must be 1..32 bytes, got ${cardId.length}`, {
      context: { length: cardId.length },
    });
  }
  const labelBytes = Buffer.from(label, "utf8");
  if (labelBytes.length === 0 || labelBytes.includes(0)) {
    throw new TermhostError("KEY_INVALID", "diversification label must be non-empty and contain no NUL byte");
  }
  const input = Buffer.concat([
    Buffer.from([0x01]),
    labelBytes,
    Buffer.from([0x00]),
    cardId,
    Buffer.from([0x00, 0x80]), // output length in bits, 128
  ]);
  return aesCmac(masterKey, input);
}
