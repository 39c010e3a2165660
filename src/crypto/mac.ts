import { timingSafeEqual } from "node:crypto";
import { aesCmac } from "./aes-cmac.js";

/**
 * Constant-time comparison of two MACs. A length mismatch returns false at once: the length of
 * a MAC is public, only its content is secret.
 */
export function macEquals(expected: Uint8Array, received: Uint8Array): boolean {
  if (expected.length !== received.length || expected.length === 0) return false;
  return timingSafeEqual(expected, received);
}

/**
 * Checks a received AES-CMAC, possibly truncated to its leftmost `received.length` bytes (cards
 * commonly send 8). Tags shorter than 4 bytes are refused as too weak to mean anything.
 */
export function verifyCmac(key: Uint8Array, message: Uint8Array, received: Uint8Array): boolean {
  const full = aesCmac(key, message);
  if (received.length < 4 || received.length > full.length) return false;
  return macEquals(full.subarray(0, received.length), received);
}
