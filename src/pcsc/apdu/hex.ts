/** Hex helpers shared by the APDU codec, the ATR parser, profiles and test fixtures. */

const HEX_BODY = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Parses "3B 8C 80 01", "3b8c8001" or "3B:8C:80:01". Returns undefined for anything else, so
 * each caller raises the error code that fits its boundary.
 */
export function tryParseHex(text: string): Buffer | undefined {
  const compact = text.replace(/[\s:]+/g, "");
  if (!HEX_BODY.test(compact)) return undefined;
  return Buffer.from(compact, "hex");
}

/** Upper-case hex without separators, the way technicians read APDUs. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").toUpperCase();
}

/** Upper-case hex with one space between bytes, the way ATRs are usually written. */
export function toSpacedHex(bytes: Uint8Array): string {
  return toHex(bytes).replace(/(..)(?=.)/g, "$1 ");
}
