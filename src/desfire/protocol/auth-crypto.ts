import { timingSafeEqual } from "node:crypto";
import { requireAes128Key } from "../../crypto/aes-cmac.js";
import { TermhostError } from "../../errors/errors.js";
import { cbcDecrypt, cbcEncrypt, ev1SessionKey, ev2SessionKeys, rotateLeft, ZERO_IV } from "./crypto.js";

/** How the card and the key holder run the three-pass mutual authentication. */
export type AuthMode = "ev2" | "ev1";

export type DesfireSessionKeys =
  | { kind: "ev2"; ti: Buffer; encKey: Buffer; macKey: Buffer }
  | { kind: "ev1"; sessionKey: Buffer };

/**
 * The party holding the card's key (the SAM, which diversifies it for this card's UID; a plain key
 * in tests) for one authentication at a time.
 */
export interface DesfireKeyHolder {
  /** Step 1: the card's ek(RndB) → the 32 bytes the host sends (E(K, RndA ‖ rol(RndB))). */
  answerChallenge(mode: AuthMode, keyNo: number, encRndB: Buffer): Promise<Buffer>;
  /**
   * Step 2: the card's final answer → session keys (EV2: TI, SesAuthENC, SesAuthMAC; EV1: one
   * session key). After an EV2 NonFirst (a 16-byte answer) `ti` is empty: the session keeps its TI.
   */
  finish(cardAnswer: Buffer): Promise<DesfireSessionKeys>;
}

/** What the key holder remembers between its two steps. */
export interface PendingAuthentication {
  mode: AuthMode;
  rndA: Buffer;
  rndB: Buffer;
  /** The 32 bytes sent to the card; EV1 chains its CBC IV from their last block. */
  sent: Buffer;
}

function requireLength(what: string, b: Buffer, n: number): void {
  if (b.length !== n) {
    throw new TermhostError("APDU_MALFORMED", `${what} is ${b.length} bytes, expected ${n}`, {
      context: { length: b.length, expected: n },
    });
  }
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Key-holder step 1 (what a SAM computes): decrypt the card's challenge, answer E(K, RndA ‖ rol(RndB)).
 * EV2 encrypts each message from a zero IV; EV1 chains one CBC through all three, so its answer
 * starts from the card's ciphertext.
 */
export function keyHolderAnswer(
  mode: AuthMode,
  key: Buffer,
  encRndB: Buffer,
  rndA: Buffer,
): PendingAuthentication {
  requireAes128Key(key);
  requireLength("the card's ek(RndB)", encRndB, 16);
  requireLength("RndA", rndA, 16);
  const rndB = cbcDecrypt(key, ZERO_IV, encRndB);
  const iv = mode === "ev2" ? ZERO_IV : encRndB;
  const sent = cbcEncrypt(key, iv, Buffer.concat([rndA, rotateLeft(rndB)]));
  return { mode, rndA: Buffer.from(rndA), rndB, sent };
}

/**
 * Key-holder step 2: the card proves it knows the key by returning rol(RndA); then the session keys.
 * A card that cannot is CARD_NOT_AUTHENTIC (a counterfeit, or keys not diversified for its UID).
 */
export function keyHolderFinish(
  key: Buffer,
  pending: PendingAuthentication,
  cardAnswer: Buffer,
): DesfireSessionKeys {
  const expectedRolA = rotateLeft(pending.rndA);
  if (pending.mode === "ev1") {
    requireLength("the card's ek(RndA')", cardAnswer, 16);
    const plain = cbcDecrypt(key, pending.sent.subarray(16), cardAnswer);
    if (!sameBytes(plain, expectedRolA)) throw notAuthentic();
    return { kind: "ev1", sessionKey: ev1SessionKey(pending.rndA, pending.rndB) };
  }
  if (cardAnswer.length !== 32 && cardAnswer.length !== 16) {
    throw new TermhostError(
      "APDU_MALFORMED",
      `EV2 authentication answer is ${cardAnswer.length} bytes, expected 32 or 16`,
    );
  }
  const plain = cbcDecrypt(key, ZERO_IV, cardAnswer);
  const first = cardAnswer.length === 32;
  const rolA = first ? plain.subarray(4, 20) : plain;
  if (!sameBytes(rolA, expectedRolA)) throw notAuthentic();
  const { encKey, macKey } = ev2SessionKeys(key, pending.rndA, pending.rndB);
  return { kind: "ev2", ti: first ? Buffer.from(plain.subarray(0, 4)) : Buffer.alloc(0), encKey, macKey };
}

function notAuthentic(): TermhostError {
  return new TermhostError("CARD_NOT_AUTHENTIC", "the card did not prove it holds the key (RndA' mismatch)", {
    hint: "a counterfeit card, or one whose keys are not diversified from our master key for its UID",
  });
}

/** The card's first answer: ek(RndB), from a zero IV in both modes. */
export function cardChallenge(key: Buffer, rndB: Buffer): Buffer {
  requireLength("RndB", rndB, 16);
  return cbcEncrypt(key, ZERO_IV, rndB);
}

/**
 * The card's check of the host's E(K, RndA ‖ rol(RndB)) and its final answer; undefined when the
 * host did not hold the key (the card answers 91 AE). `ti` is the new TI for an EV2 First, or
 * undefined for an EV2 NonFirst (16-byte answer, TI kept).
 */
export function cardVerifyHost(
  mode: AuthMode,
  key: Buffer,
  rndB: Buffer,
  encRndB: Buffer,
  hostMessage: Buffer,
  ti: Buffer | undefined,
): { answer: Buffer; rndA: Buffer; keys: DesfireSessionKeys } | undefined {
  if (hostMessage.length !== 32) return undefined;
  const plain = cbcDecrypt(key, mode === "ev2" ? ZERO_IV : encRndB, hostMessage);
  const rndA = Buffer.from(plain.subarray(0, 16));
  if (!sameBytes(plain.subarray(16), rotateLeft(rndB))) return undefined;
  if (mode === "ev1") {
    const answer = cbcEncrypt(key, hostMessage.subarray(16), rotateLeft(rndA));
    return { answer, rndA, keys: { kind: "ev1", sessionKey: ev1SessionKey(rndA, rndB) } };
  }
  const body = ti === undefined ? rotateLeft(rndA) : Buffer.concat([ti, rotateLeft(rndA), Buffer.alloc(12)]);
  const { encKey, macKey } = ev2SessionKeys(key, rndA, rndB);
  return {
    answer: cbcEncrypt(key, ZERO_IV, body),
    rndA,
    keys: { kind: "ev2", ti: ti === undefined ? Buffer.alloc(0) : Buffer.from(ti), encKey, macKey },
  };
}
