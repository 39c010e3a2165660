import { aesCmac, CARD_KEY_LABEL, diversifyKey, verifyCmac } from "../../crypto/index.js";
import { ID_LENGTH, type Struct, struct } from "./fields.js";

/**
 * The MAC inputs of the purse application. Each starts with its own tag byte, so a MAC made for
 * one purpose never verifies as another, and each has a fixed length, so no two field sequences
 * encode to the same input. The card computes them with its own key; the SAM derives the same key
 * from the issuer master key; the host holds neither and only carries the bytes.
 */
export const MacTag = { AUTHENTICATION: 0x01, S1: 0x02, S2: 0x03, S3: 0x04, DEBIT_PROOF: 0x05 } as const;

/** Transmitted MACs are the leftmost 8 bytes of the AES-CMAC. */
export const MAC_LENGTH = ID_LENGTH;

/** The card's own key: diversified from the issuer master key and the card id (docs/card-protocol.md). */
export function purseCardKey(masterKey: Uint8Array, cardId: Uint8Array): Buffer {
  return diversifyKey(masterKey, cardId, CARD_KEY_LABEL);
}

export interface AuthenticationInput {
  cardId: Buffer;
  counter: number;
  terminalChallenge: Buffer;
  cardChallenge: Buffer;
}
const AUTHENTICATION = struct({
  tag: "u8",
  cardId: "bytes8",
  counter: "u32",
  terminalChallenge: "bytes8",
  cardChallenge: "bytes8",
});

export interface S1Input {
  cardId: Buffer;
  currency: number;
  balance: number;
  counter: number;
  cardChallenge: Buffer;
  amount: number;
  terminalId: Buffer;
  /** The challenge of the AUTHENTICATE that opened the session: ties S1 to the SAM's fresh challenge. */
  terminalChallenge: Buffer;
}
const S1 = struct({
  tag: "u8",
  cardId: "bytes8",
  currency: "bcd2",
  balance: "u32",
  counter: "u32",
  cardChallenge: "bytes8",
  amount: "u32",
  terminalId: "bytes8",
  terminalChallenge: "bytes8",
});

/** What an authorization is bound to: one card, one counter value, one amount, one terminal. */
export interface S2Input {
  cardId: Buffer;
  counter: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
}
const S2 = struct({
  tag: "u8",
  cardId: "bytes8",
  counter: "u32",
  amount: "u32",
  currency: "bcd2",
  terminalId: "bytes8",
});

export interface S3Input {
  cardId: Buffer;
  counter: number;
  amount: number;
  currency: number;
  balanceAfter: number;
  s2: Buffer;
}
const S3 = struct({
  tag: "u8",
  cardId: "bytes8",
  counter: "u32",
  amount: "u32",
  currency: "bcd2",
  balanceAfter: "u32",
  s2: "bytes8",
});

export interface DebitProofInput {
  cardId: Buffer;
  counter: number;
  amount: number;
  currency: number;
  balanceAfter: number;
  terminalId: Buffer;
}
const DEBIT_PROOF = struct({
  tag: "u8",
  cardId: "bytes8",
  counter: "u32",
  amount: "u32",
  currency: "bcd2",
  balanceAfter: "u32",
  terminalId: "bytes8",
});

function tagged<T>(s: Struct<T & { tag: number }>, tag: number): (v: T) => Buffer {
  return (v) => s.encode({ ...v, tag });
}

export const macInput = {
  authentication: tagged<AuthenticationInput>(AUTHENTICATION, MacTag.AUTHENTICATION),
  s1: tagged<S1Input>(S1, MacTag.S1),
  s2: tagged<S2Input>(S2, MacTag.S2),
  s3: tagged<S3Input>(S3, MacTag.S3),
  debitProof: tagged<DebitProofInput>(DEBIT_PROOF, MacTag.DEBIT_PROOF),
};

/** The 8-byte MAC the card or the SAM sends. */
export function mac8(key: Uint8Array, input: Buffer): Buffer {
  return aesCmac(key, input).subarray(0, MAC_LENGTH);
}

/** Constant-time check of a received 8-byte MAC; any other length fails. */
export function verifyMac8(key: Uint8Array, input: Buffer, mac: Uint8Array): boolean {
  return mac.length === MAC_LENGTH && verifyCmac(key, input, mac);
}
