import { isDesfireCardId, uidOf } from "../../../src/desfire/family/card-id.js";
import { samDesfireCardKey } from "../../../src/desfire/family/keys.js";
import type { DesfireKeyHolder } from "../../../src/desfire/protocol/index.js";
import { localKeyHolder } from "../../../src/desfire/protocol/index.js";
import {
  INS_DESFIRE_AUTH_CHALLENGE,
  INS_DESFIRE_AUTH_FINISH,
  INS_DESFIRE_ISSUE_AUTHORIZATION,
  INS_DESFIRE_VERIFY_COMPLETION,
  parseDesfireAuthChallenge,
  parseDesfireAuthFinish,
  parseDesfireCompletion,
  parseDesfireIssue,
  serializeDesfireSessionKeys,
} from "../../../src/desfire/sam/messages.js";
import type { CommandApdu } from "../../../src/pcsc/apdu/command.js";
import { serializeResponse } from "../../../src/pcsc/apdu/response.js";
import { PurseSW, serializeIssueAuthorizationResponse } from "../../../src/purse/messages/index.js";
import { completeDesfireAuthorization, grantAuthorization } from "./authorization-rules.js";
import type { SamContext, SamOutcome } from "./commands.js";

/** The DESFire card the SAM is authenticating, or has authenticated, in this SAM session. */
export interface DesfireSamSession {
  cardId: Buffer;
  holder: DesfireKeyHolder | undefined;
  /** Set once the card proved its key: an authorization may be issued for it. */
  verified: boolean;
}

export const DESFIRE_INS = new Set([
  INS_DESFIRE_AUTH_CHALLENGE,
  INS_DESFIRE_AUTH_FINISH,
  INS_DESFIRE_ISSUE_AUTHORIZATION,
  INS_DESFIRE_VERIFY_COMPLETION,
]);

const reply = (sw: number, data: Buffer = Buffer.alloc(0)): SamOutcome => ({
  kind: "reply",
  response: serializeResponse({ data, sw }),
});

/**
 * Parsing is synchronous (a malformed command gets its status word from the caller); the
 * cryptography of the authentication answers later, and a card answer that does not verify is
 * 6988 with the session ended.
 */
export function handleDesfire(ctx: SamContext, cmd: CommandApdu): SamOutcome | Promise<SamOutcome> {
  switch (cmd.ins) {
    case INS_DESFIRE_AUTH_CHALLENGE: {
      const c = parseDesfireAuthChallenge(cmd);
      ctx.session.desfire = undefined;
      if (!isDesfireCardId(c.cardId)) return reply(PurseSW.DATA_INVALID);
      const holder = localKeyHolder(samDesfireCardKey(ctx.masterKey, c.keyNo, uidOf(c.cardId)), ctx.random);
      const session: DesfireSamSession = { cardId: c.cardId, holder, verified: false };
      ctx.session.desfire = session;
      return holder.answerChallenge(c.mode, c.keyNo, c.encRndB).then(
        (answer: Buffer) => reply(PurseSW.OK, answer),
        () => {
          ctx.session.desfire = undefined;
          return reply(PurseSW.MAC_INVALID);
        },
      );
    }
    case INS_DESFIRE_AUTH_FINISH: {
      const answer = parseDesfireAuthFinish(cmd);
      const session = ctx.session.desfire;
      const holder = session?.holder;
      if (session === undefined || holder === undefined) return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
      // One challenge, one answer: a replayed answer never finishes a second authentication.
      session.holder = undefined;
      return holder.finish(answer).then(
        (keys) => {
          session.verified = true;
          return reply(PurseSW.OK, serializeDesfireSessionKeys(keys));
        },
        () => {
          ctx.session.desfire = undefined;
          return reply(PurseSW.MAC_INVALID);
        },
      );
    }
    case INS_DESFIRE_ISSUE_AUTHORIZATION: {
      const c = parseDesfireIssue(cmd);
      const session = ctx.session.desfire;
      ctx.session.desfire = undefined;
      if (session === undefined || !session.verified || !session.cardId.equals(c.cardId)) {
        return reply(PurseSW.SECURITY_NOT_SATISFIED);
      }
      const outcome = grantAuthorization(ctx.masterKey, ctx.ledger, c, ctx.now());
      switch (outcome.kind) {
        case "conflict":
        case "declined":
          return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
        case "existing":
          return reply(PurseSW.OK, grantBytes(outcome.entry));
        case "issued":
          return {
            kind: "commit",
            next: outcome.next,
            response: serializeResponse({ data: grantBytes(outcome.entry), sw: PurseSW.OK }),
          };
      }
      return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
    }
    default: {
      const c = parseDesfireCompletion(cmd);
      const outcome = completeDesfireAuthorization(
        ctx.ledger,
        c.authorizationId,
        c.balanceAfter,
        c.authMac,
        ctx.now(),
      );
      switch (outcome.kind) {
        case "not-found":
          return reply(PurseSW.REFERENCE_NOT_FOUND);
        case "s3-invalid":
          return reply(PurseSW.MAC_INVALID);
        case "reversed":
          return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
        case "already-applied":
          return reply(PurseSW.OK);
        case "applied":
          return {
            kind: "commit",
            next: outcome.next,
            response: serializeResponse({ data: Buffer.alloc(0), sw: PurseSW.OK }),
          };
      }
    }
  }
}

function grantBytes(e: { authorizationId: number; s2: Buffer }): Buffer {
  return serializeIssueAuthorizationResponse({ authorizationId: e.authorizationId, s2: e.s2 });
}
