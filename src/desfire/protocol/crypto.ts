import { createCipheriv, createDecipheriv } from "node:crypto";
import { AES_BLOCK, aesCmac, cmacSubkeys, requireAes128Key } from "../../crypto/aes-cmac.js";
import { TermhostError } from "../../errors/errors.js";

/**
 * The DESFire CRC32: the IEEE 802.3 polynomial (reflected, EDB88320), init FFFFFFFF, and unlike
 * zlib's no final inversion; sent little-endian.
 */
export function desfireCrc32(data: Uint8Array): Buffer {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  const out = Buffer.alloc(4);
  out.writeUInt32LE(crc >>> 0);
  return out;
}

/** Rotates a buffer left by one byte (the `rol` of the DESFire authentications). */
export function rotateLeft(b: Uint8Array): Buffer {
  return Buffer.concat([b.subarray(1), b.subarray(0, 1)]);
}

/** ISO/IEC 9797-1 padding method 2: 80 then zeros to a block boundary, always at least one byte. */
export function padIso9797M2(data: Uint8Array): Buffer {
  const total = (Math.floor(data.length / AES_BLOCK) + 1) * AES_BLOCK;
  const out = Buffer.alloc(total);
  Buffer.from(data).copy(out);
  out[data.length] = 0x80;
  return out;
}

/** Removes method-2 padding; a plaintext without it is a forgery or a key mismatch. */
export function unpadIso9797M2(data: Uint8Array): Buffer {
  let i = data.length - 1;
  while (i >= 0 && data[i] === 0x00) i--;
  if (i < 0 || data[i] !== 0x80 || data.length - i > AES_BLOCK) {
    throw new TermhostError("CARD_NOT_AUTHENTIC", "enciphered card data has no ISO 9797-1 M2 padding", {
      hint: "the card's answer does not decrypt under this session's key",
    });
  }
  return Buffer.from(data.subarray(0, i));
}

function requireBlocks(data: Uint8Array): void {
  if (data.length % AES_BLOCK !== 0) {
    throw new TermhostError(
      "APDU_MALFORMED",
      `enciphered data is ${data.length} bytes, not whole AES blocks`,
      {
        context: { length: data.length },
      },
    );
  }
}

/** AES-128-CBC with an explicit IV and no padding. */
export function cbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  requireAes128Key(key);
  requireBlocks(data);
  const c = createCipheriv("aes-128-cbc", key, iv);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

export function cbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Buffer {
  requireAes128Key(key);
  requireBlocks(data);
  const d = createDecipheriv("aes-128-cbc", key, iv);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(data), d.final()]);
}

export const ZERO_IV: Buffer = Buffer.alloc(AES_BLOCK);

/**
 * AES-CMAC whose CBC starts from `iv` instead of zero: EV1 secure messaging chains one IV through
 * the whole session, and each CMAC becomes the next IV. With a zero IV it is RFC 4493's CMAC.
 */
export function cmacWithIv(key: Uint8Array, iv: Uint8Array, message: Uint8Array): Buffer {
  if (iv.every((b) => b === 0)) return aesCmac(key, message);
  const { k1, k2 } = cmacSubkeys(key);
  const complete = message.length > 0 && message.length % AES_BLOCK === 0;
  const padded = complete ? Buffer.from(message) : padIso9797M2(message);
  const subkey = complete ? k1 : k2;
  const last = padded.length - AES_BLOCK;
  for (let i = 0; i < AES_BLOCK; i++) padded[last + i] = (padded[last + i] ?? 0) ^ (subkey[i] ?? 0);
  const out = cbcEncrypt(key, iv, padded);
  return out.subarray(out.length - AES_BLOCK);
}

/** EV2 MACt: the odd-indexed bytes (1, 3, … 15) of the CMAC, 8 bytes. */
export function macT(key: Uint8Array, message: Uint8Array): Buffer {
  const full = aesCmac(key, message);
  return Buffer.from(Array.from({ length: 8 }, (_, i) => full[2 * i + 1] ?? 0));
}

/** EV1 AES session key: RndA[0..3] ‖ RndB[0..3] ‖ RndA[12..15] ‖ RndB[12..15]. */
export function ev1SessionKey(rndA: Uint8Array, rndB: Uint8Array): Buffer {
  return Buffer.concat([
    rndA.subarray(0, 4),
    rndB.subarray(0, 4),
    rndA.subarray(12, 16),
    rndB.subarray(12, 16),
  ]);
}

function ev2SessionVector(label: readonly [number, number], rndA: Uint8Array, rndB: Uint8Array): Buffer {
  const xored = Buffer.alloc(6);
  for (let i = 0; i < 6; i++) xored[i] = (rndA[2 + i] ?? 0) ^ (rndB[i] ?? 0);
  return Buffer.concat([
    Buffer.from([label[0], label[1], 0x00, 0x01, 0x00, 0x80]),
    rndA.subarray(0, 2),
    xored,
    rndB.subarray(6, 16),
    rndA.subarray(8, 16),
  ]);
}

/** EV2 session keys: CMAC(K, SV1) with A5 5A for encryption, CMAC(K, SV2) with 5A A5 for MACs. */
export function ev2SessionKeys(
  key: Uint8Array,
  rndA: Uint8Array,
  rndB: Uint8Array,
): { encKey: Buffer; macKey: Buffer } {
  return {
    encKey: aesCmac(key, ev2SessionVector([0xa5, 0x5a], rndA, rndB)),
    macKey: aesCmac(key, ev2SessionVector([0x5a, 0xa5], rndA, rndB)),
  };
}

function counterLe(ctr: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(ctr & 0xffff);
  return b;
}

/** EV2 IV for command data: E(SesAuthENC, A5 5A ‖ TI ‖ CmdCtr ‖ 0⁸). */
export function ev2CommandIv(encKey: Uint8Array, ti: Uint8Array, cmdCtr: number): Buffer {
  return cbcEncrypt(
    encKey,
    ZERO_IV,
    Buffer.concat([Buffer.from([0xa5, 0x5a]), ti, counterLe(cmdCtr), Buffer.alloc(8)]),
  );
}

/** EV2 IV for response data: E(SesAuthENC, 5A A5 ‖ TI ‖ CmdCtr+1 ‖ 0⁸), `cmdCtr` already incremented. */
export function ev2ResponseIv(encKey: Uint8Array, ti: Uint8Array, cmdCtr: number): Buffer {
  return cbcEncrypt(
    encKey,
    ZERO_IV,
    Buffer.concat([Buffer.from([0x5a, 0xa5]), ti, counterLe(cmdCtr), Buffer.alloc(8)]),
  );
}

/** EV2 command MAC over Cmd ‖ CmdCtr ‖ TI ‖ header ‖ data (data enciphered in Full mode). */
export function ev2CommandMac(
  macKey: Uint8Array,
  cmd: number,
  cmdCtr: number,
  ti: Uint8Array,
  body: Uint8Array,
): Buffer {
  return macT(macKey, Buffer.concat([Buffer.from([cmd]), counterLe(cmdCtr), ti, body]));
}

/** EV2 response MAC over RC ‖ CmdCtr+1 ‖ TI ‖ data, `cmdCtr` already incremented. */
export function ev2ResponseMac(
  macKey: Uint8Array,
  status: number,
  cmdCtr: number,
  ti: Uint8Array,
  data: Uint8Array,
): Buffer {
  return macT(macKey, Buffer.concat([Buffer.from([status]), counterLe(cmdCtr), ti, data]));
}
