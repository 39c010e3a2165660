import type { DesfireKeyHolder } from "../desfire/protocol/index.js";
import {
  buildDesfireAuthChallenge,
  buildDesfireAuthFinish,
  buildDesfireCompletion,
  buildDesfireIssue,
  parseDesfireAuthChallengeResponse,
  parseDesfireSessionKeys,
} from "../desfire/sam/messages.js";
import { type ErrorCode, isTermhostError, TermhostError } from "../errors/errors.js";
import type { CommandApdu } from "../pcsc/apdu/command.js";
import { exchange, type Transmit } from "../pcsc/apdu/exchange.js";
import { describeStatus } from "../pcsc/apdu/status.js";
import type { CardChannel } from "../pcsc/reader-manager.js";
import {
  type AuthenticateResponse,
  type AuthorizationRecord,
  buildFindAuthorization,
  buildGetChallenge,
  buildIssueAuthorization,
  buildReportReversal,
  buildSelect,
  buildVerifyAuthentication,
  buildVerifyCompletion,
  describePurseStatus,
  INS_REPORT_REVERSAL,
  PurseSW,
  parseAuthorizationResponse,
  parseFindAuthorizationResponse,
  parseGetChallengeResponse,
  parseIssueAuthorizationResponse,
  SAM_AID,
} from "../purse/messages/index.js";
import type {
  Authorization,
  Authorizer,
  AuthorizerSession,
  DesfireAuthorizer,
  DesfireAuthorizerSession,
  DesfireLoadRequest,
  LoadAuthorizationRequest,
} from "./authorizer.js";

/** Where the SAM is: a function so the reader can be found again after a re-plug or pcscd restart. */
export interface SamSlot {
  reader(): string | undefined;
  withCard<T>(reader: string, fn: (channel: CardChannel) => Promise<T>): Promise<T>;
}

const TRANSPORT_ERRORS = new Set<ErrorCode>([
  "CARD_REMOVED",
  "CARD_ABSENT",
  "READER_UNAVAILABLE",
  "PCSC_UNAVAILABLE",
  "BUSY",
]);

async function send(
  transmit: Transmit,
  cmd: CommandApdu,
  what: string,
  onStatus: (sw: number) => ErrorCode,
): Promise<Buffer> {
  const r = await exchange(transmit, cmd, { accept: () => true });
  if (r.sw === PurseSW.OK) return r.data;
  const sw = r.sw.toString(16).toUpperCase().padStart(4, "0");
  const meaning = describePurseStatus(r.sw) ?? describeStatus(r.sw);
  throw new TermhostError(onStatus(r.sw), `SAM ${what}: ${sw} (${meaning})`, {
    context: { sw, command: what },
  });
}

const macOrRefused = (sw: number): ErrorCode =>
  sw === PurseSW.MAC_INVALID ? "CARD_NOT_AUTHENTIC" : "AUTHORIZATION_DECLINED";

const macOrUnavailable = (sw: number): ErrorCode =>
  sw === PurseSW.MAC_INVALID ? "CARD_NOT_AUTHENTIC" : "AUTHORIZER_UNAVAILABLE";

const completionError = (sw: number): ErrorCode =>
  sw === PurseSW.MAC_INVALID
    ? "CARD_NOT_AUTHENTIC"
    : sw === PurseSW.REFERENCE_NOT_FOUND
      ? "TRANSACTION_NOT_FOUND"
      : "VALUE_REFUSED";

/**
 * The SAM in a reader slot as the Authorizer. A session holds the SAM exclusively from challenge to
 * authorization, because the SAM keeps the challenge and the verified card in its RAM.
 */
export class SamAuthorizer implements Authorizer, DesfireAuthorizer {
  readonly name = "sam";

  constructor(private readonly slot: SamSlot) {}

  session<T>(fn: (session: AuthorizerSession) => Promise<T>): Promise<T> {
    return this.withSam(async (t) => {
      const session: AuthorizerSession = {
        ref: () => null,
        challenge: async () =>
          parseGetChallengeResponse(
            await send(t, buildGetChallenge(), "GET CHALLENGE", () => "AUTHORIZER_UNAVAILABLE"),
          ),
        verifyAuthentication: async (answer: AuthenticateResponse) => {
          await send(t, buildVerifyAuthentication(answer), "VERIFY AUTHENTICATION", (sw) =>
            sw === PurseSW.MAC_INVALID ? "CARD_NOT_AUTHENTIC" : "AUTHORIZER_UNAVAILABLE",
          );
        },
        authorize: async (req: LoadAuthorizationRequest): Promise<Authorization> =>
          parseIssueAuthorizationResponse(
            await send(
              t,
              buildIssueAuthorization({ amount: req.amount, terminalId: req.terminalId, card: req.init }),
              "ISSUE AUTHORIZATION",
              macOrRefused,
            ),
          ),
      };
      return fn(session);
    });
  }

  /** Holds the SAM for the whole card session: it keeps the authentication's state in its RAM. */
  desfireSession<T>(fn: (session: DesfireAuthorizerSession) => Promise<T>): Promise<T> {
    return this.withSam(async (t) => {
      const keyHolder = (cardId: Buffer): DesfireKeyHolder => {
        let mode: "ev2" | "ev1" = "ev2";
        return {
          answerChallenge: async (m, keyNo, encRndB) => {
            mode = m;
            return parseDesfireAuthChallengeResponse(
              await send(
                t,
                buildDesfireAuthChallenge({ mode: m, keyNo, cardId, encRndB }),
                "DESFIRE AUTH CHALLENGE",
                macOrUnavailable,
              ),
            );
          },
          finish: async (cardAnswer) =>
            parseDesfireSessionKeys(
              mode,
              await send(t, buildDesfireAuthFinish(cardAnswer), "DESFIRE AUTH FINISH", macOrUnavailable),
            ),
        };
      };
      return fn({
        keyHolder,
        authorize: async (req: DesfireLoadRequest): Promise<Authorization> =>
          parseIssueAuthorizationResponse(
            await send(t, buildDesfireIssue(req), "DESFIRE ISSUE AUTHORIZATION", (sw) =>
              sw === PurseSW.SECURITY_NOT_SATISFIED ? "CARD_NOT_AUTHENTIC" : "AUTHORIZATION_DECLINED",
            ),
          ),
      });
    });
  }

  verifyDesfireCompletion(authorizationId: number, balanceAfter: number, authMac: Buffer): Promise<void> {
    return this.withSam(async (t) => {
      await send(
        t,
        buildDesfireCompletion({ authorizationId, balanceAfter, authMac }),
        "DESFIRE VERIFY COMPLETION",
        completionError,
      );
    });
  }

  /**
   * Nothing to end: the SAM is held exclusively while it authorizes and answers within the APDU, so
   * once the terminal can ask again, what it issued is already in its ledger.
   */
  async abandon(_ref: string): Promise<void> {}

  verifyCompletion(authorizationId: number, balanceAfter: number, s3: Buffer): Promise<void> {
    return this.withSam(async (t) => {
      await send(
        t,
        buildVerifyCompletion({ authorizationId, balanceAfter, s3 }),
        "VERIFY COMPLETION",
        completionError,
      );
    });
  }

  reportReversal(authorizationId: number): Promise<AuthorizationRecord> {
    return this.withSam(async (t) =>
      parseAuthorizationResponse(
        await send(t, buildReportReversal({ authorizationId }), "REPORT FOR REVERSAL", (sw) =>
          sw === PurseSW.REFERENCE_NOT_FOUND ? "TRANSACTION_NOT_FOUND" : "VALUE_REFUSED",
        ),
        INS_REPORT_REVERSAL,
      ),
    );
  }

  find(cardId: Buffer, counter: number): Promise<AuthorizationRecord | undefined> {
    return this.withSam(async (t) => {
      const r = await exchange(t, buildFindAuthorization({ cardId, counter }), { accept: () => true });
      if (r.sw === PurseSW.REFERENCE_NOT_FOUND) return undefined;
      if (r.sw !== PurseSW.OK) {
        throw new TermhostError("AUTHORIZER_UNAVAILABLE", `SAM FIND AUTHORIZATION: ${r.sw.toString(16)}`);
      }
      return parseFindAuthorizationResponse(r.data);
    });
  }

  /** Selects the SAM and runs `fn`; a SAM that is gone or unreadable is AUTHORIZER_UNAVAILABLE. */
  private async withSam<T>(fn: (transmit: Transmit) => Promise<T>): Promise<T> {
    const reader = this.slot.reader();
    if (reader === undefined) {
      throw new TermhostError("AUTHORIZER_UNAVAILABLE", "no SAM is present", {
        hint: "insert the SAM in its reader slot; value increases wait for it",
      });
    }
    // A session runs card exchanges inside it (the purse's AUTHENTICATE, a DESFire card's whole
    // authentication): a card pulled then is the card's error, not an unreachable SAM.
    const fromSam = new WeakSet<object>();
    let passThrough: unknown;
    try {
      return await this.slot.withCard(reader, async (channel) => {
        const transmit: Transmit = async (apdu) => {
          try {
            return await channel.transmit(apdu);
          } catch (e) {
            if (typeof e === "object" && e !== null) fromSam.add(e);
            throw e;
          }
        };
        await send(transmit, buildSelect(SAM_AID), "SELECT", () => "AUTHORIZER_UNAVAILABLE");
        try {
          return await fn(transmit);
        } catch (e) {
          if (!(typeof e === "object" && e !== null && fromSam.has(e))) passThrough = e;
          throw e;
        }
      });
    } catch (e) {
      if (e === passThrough) throw e;
      if (isTermhostError(e) && TRANSPORT_ERRORS.has(e.code)) {
        throw new TermhostError(
          "AUTHORIZER_UNAVAILABLE",
          `the SAM in '${reader}' is unreachable: ${e.message}`,
          {
            hint: "check the SAM and its reader; the transaction is kept and retried",
            cause: e,
          },
        );
      }
      throw e;
    }
  }
}
