import type { DesfireKeyHolder } from "../desfire/protocol/index.js";
import type {
  AuthenticateResponse,
  AuthorizationRecord,
  InitializeLoadResponse,
} from "../purse/messages/index.js";

/** What the authorizer grants: its ledger id and S2, bound to card id, counter, amount, currency, terminal. */
export interface Authorization {
  authorizationId: number;
  s2: Buffer;
}

export interface LoadAuthorizationRequest {
  amount: number;
  terminalId: Buffer;
  /** The card's INITIALIZE LOAD answer, unchanged: card id, currency, balance, counter, RL, S1. */
  init: InitializeLoadResponse;
}

/**
 * One authentication-to-authorization exchange. The terminal challenge, the verification of the
 * card's answer and the authorization of one load belong together: the authorizer checks S1
 * against the challenge it issued, so a session serves exactly one card, one load.
 */
export interface AuthorizerSession {
  /**
   * The authorizer's name for this exchange once `challenge()` opened it, journaled before the
   * authorization is asked for, so that an exchange the terminal gives up on can be ended
   * (`Authorizer.abandon`); null where there is nothing to end (the SAM answers while held).
   */
  ref(): string | null;
  /** A fresh terminal challenge RT for the card's AUTHENTICATE. */
  challenge(): Promise<Buffer>;
  /** Rejects with CARD_NOT_AUTHENTIC when the card's MAC over RT does not verify. */
  verifyAuthentication(answer: AuthenticateResponse): Promise<void>;
  /**
   * Checks S1 and issues S2. Asking again for the same card, counter and terms returns the same
   * authorization. Rejects with AUTHORIZATION_DECLINED (issuer said no), CARD_NOT_AUTHENTIC (S1
   * does not verify) or AUTHORIZER_UNAVAILABLE (could not ask).
   */
  authorize(request: LoadAuthorizationRequest): Promise<Authorization>;
}

/**
 * Authorizes value increases (claim 002 B). The host holds no card keys: every card MAC is checked
 * here. Implementations: the SAM in a reader slot, and the issuer host over HTTPS.
 *
 * Every method may reject with AUTHORIZER_UNAVAILABLE when the SAM is pulled or the issuer host
 * cannot be reached; nothing is decided then, and the caller retries later. A call that rejected
 * that way may still have taken effect at the authorizer (the answer was lost): every method is
 * safe to repeat.
 */
export interface Authorizer {
  readonly name: string;
  session<T>(fn: (session: AuthorizerSession) => Promise<T>): Promise<T>;
  /**
   * Checks the card's completion proof S3 and records the authorization as applied. Rejects with
   * CARD_NOT_AUTHENTIC when S3 does not verify. Repeating it for an applied authorization succeeds.
   */
  verifyCompletion(authorizationId: number, balanceAfter: number, s3: Buffer): Promise<void>;
  /** Marks an authorization that will never be applied; repeating it succeeds. */
  reportReversal(authorizationId: number): Promise<AuthorizationRecord>;
  /** The latest authorization issued for this card at this counter, if any. */
  find(cardId: Buffer, counter: number): Promise<AuthorizationRecord | undefined>;
  /**
   * Ends an exchange the terminal gave up on (a session's `ref()`): once this returns, nothing more
   * is issued in it, so what `find` then answers is final. Repeating it succeeds.
   */
  abandon(ref: string): Promise<void>;
}

/** The terms of a DESFire credit, as the card showed them in the session the authorizer authenticated. */
export interface DesfireLoadRequest {
  /** 0xDF ‖ UID. */
  cardId: Buffer;
  /** The highest sequence number in the card's transaction log. */
  counter: number;
  balance: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
}

/**
 * One DESFire card session at the authorizer: it runs the card authentication's cryptography as
 * the key holder (the host never holds a card key, only the session keys of this one session),
 * then, for a card that proved its key in this session, issues the credit's authorization.
 */
export interface DesfireAuthorizerSession {
  keyHolder(cardId: Buffer): DesfireKeyHolder;
  /** `authorizationId` and the authorization MAC the card's log record will carry (as `s2`). */
  authorize(request: DesfireLoadRequest): Promise<Authorization>;
}

/** An authorizer that can authorize DESFire value-file credits (the SAM). */
export interface DesfireAuthorizer {
  desfireSession<T>(fn: (session: DesfireAuthorizerSession) => Promise<T>): Promise<T>;
  /**
   * Records the authorization as applied once the card's log holds its record: `authMac` as read
   * back under the session MAC. Rejects with CARD_NOT_AUTHENTIC when it is not this authorization's.
   */
  verifyDesfireCompletion(authorizationId: number, balanceAfter: number, authMac: Buffer): Promise<void>;
}
