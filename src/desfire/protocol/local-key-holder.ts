import { requireAes128Key } from "../../crypto/aes-cmac.js";
import { TermhostError } from "../../errors/errors.js";
import {
  type AuthMode,
  type DesfireKeyHolder,
  type DesfireSessionKeys,
  keyHolderAnswer,
  keyHolderFinish,
  type PendingAuthentication,
} from "./auth-crypto.js";
import { type RandomSource, secureRandom } from "./random.js";

/**
 * A key holder with the card's (already diversified) key in memory: for tests and simulators. A
 * terminal never has one in production; the SAM does this work on its side of the wire.
 */
export function localKeyHolder(key: Buffer, random: RandomSource = secureRandom): DesfireKeyHolder {
  requireAes128Key(key, "card key");
  const k = Buffer.from(key);
  let pending: PendingAuthentication | undefined;
  return {
    answerChallenge(mode: AuthMode, _keyNo: number, encRndB: Buffer): Promise<Buffer> {
      pending = keyHolderAnswer(mode, k, encRndB, random(16));
      return Promise.resolve(Buffer.from(pending.sent));
    },
    finish(cardAnswer: Buffer): Promise<DesfireSessionKeys> {
      const p = pending;
      pending = undefined;
      if (p === undefined) {
        return Promise.reject(new TermhostError("INTERNAL", "key holder: finish without answerChallenge"));
      }
      try {
        return Promise.resolve(keyHolderFinish(k, p, cardAnswer));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}
