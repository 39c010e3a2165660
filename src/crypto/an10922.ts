import { createCipheriv } from "node:crypto";
import { TermhostError } from "../errors/errors.js";
import { AES_BLOCK, aesCmac, cmacSubkeys, requireAes128Key } from "./aes-cmac.js";

/** The constant AN10922 puts in front of the diversification input for an AES-128 key. */
export const AN10922_AES128_CONSTANT = 0x01;
const MAX_INPUT = 31;
const BLOCK_PAIR = 2 * AES_BLOCK;

/**
 * NXP AN10922 AES-128 key diversification: a CMAC over `01 ‖ input` that always spans two
 * blocks. An input of 31 bytes fills both blocks and is a plain CMAC (K1); a shorter one is
 * padded with 80 00… to 32 bytes and its last block is masked with K2, which a plain CMAC over
 * the unpadded input would not do (it would stop after one block for short inputs).
 */
export function an10922DiversifyAes128(masterKey: Uint8Array, input: Uint8Array): Buffer {
  requireAes128Key(masterKey, "master key");
  if (input.length < 1 || input.length > MAX_INPUT) {
    throw new TermhostError(
      "KEY_INVALID",
      `AN10922 diversification input must be 1..${MAX_INPUT} bytes, got ${input.length}`,
      { context: { length: input.length } },
    );
  }
  const m = Buffer.concat([Buffer.from([AN10922_AES128_CONSTANT]), input]);
  if (m.length === BLOCK_PAIR) return aesCmac(masterKey, m);
  const padded = Buffer.alloc(BLOCK_PAIR);
  m.copy(padded);
  padded[m.length] = 0x80;
  const { k2 } = cmacSubkeys(masterKey);
  for (let i = 0; i < AES_BLOCK; i++) {
    padded[AES_BLOCK + i] = (padded[AES_BLOCK + i] ?? 0) ^ (k2[i] ?? 0);
  }
  const cipher = createCipheriv("aes-128-cbc", masterKey, Buffer.alloc(AES_BLOCK));
  cipher.setAutoPadding(false);
  const out = Buffer.concat([cipher.update(padded), cipher.final()]);
  return out.subarray(AES_BLOCK);
}
