import { createCipheriv } from "node:crypto";
import { TermhostError } from "../errors/errors.js";

export const AES_BLOCK = 16;
const RB = 0x87;

export function requireAes128Key(key: Uint8Array, what = "key"): void {
  if (key.length !== 16) {
    throw new TermhostError("KEY_INVALID", `${what} must be 16 bytes (AES-128), got ${key.length}`, {
      context: { length: key.length },
    });
  }
}

function encryptBlock(key: Uint8Array, block: Uint8Array): Buffer {
  const cipher = createCipheriv("aes-128-ecb", key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function shiftLeftOne(input: Buffer): Buffer {
  const out = Buffer.alloc(input.length);
  let carry = 0;
  for (let i = input.length - 1; i >= 0; i--) {
    const b = input[i] ?? 0;
    out[i] = ((b << 1) & 0xff) | carry;
    carry = b >> 7;
  }
  return out;
}

function doubleInField(block: Buffer): Buffer {
  const shifted = shiftLeftOne(block);
  if (((block[0] ?? 0) & 0x80) !== 0) shifted[AES_BLOCK - 1] = (shifted[AES_BLOCK - 1] ?? 0) ^ RB;
  return shifted;
}

/** RFC 4493 section 2.3: K1 and K2 derived from E(K, 0^128). */
export function cmacSubkeys(key: Uint8Array): { k1: Buffer; k2: Buffer } {
  requireAes128Key(key);
  const l = encryptBlock(key, Buffer.alloc(AES_BLOCK));
  const k1 = doubleInField(l);
  return { k1, k2: doubleInField(k1) };
}

/** AES-128-CMAC (RFC 4493): a 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Buffer {
  const { k1, k2 } = cmacSubkeys(key);
  const complete = message.length > 0 && message.length % AES_BLOCK === 0;
  const blocks = Math.max(1, Math.ceil(message.length / AES_BLOCK));
  const last = Buffer.alloc(AES_BLOCK);
  const tailStart = (blocks - 1) * AES_BLOCK;
  Buffer.from(message.subarray(tailStart)).copy(last);
  if (!complete) last[message.length - tailStart] = 0x80;
  const subkey = complete ? k1 : k2;
  for (let i = 0; i < AES_BLOCK; i++) last[i] = (last[i] ?? 0) ^ (subkey[i] ?? 0);

  // CBC with a zero IV over all blocks; the tag is the last cipher block.
  const cipher = createCipheriv("aes-128-cbc", key, Buffer.alloc(AES_BLOCK));
  cipher.setAutoPadding(false);
  const body = Buffer.concat([
    cipher.update(message.subarray(0, tailStart)),
    cipher.update(last),
    cipher.final(),
  ]);
  return body.subarray(body.length - AES_BLOCK);
}
