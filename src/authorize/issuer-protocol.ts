import { z } from "zod";
import { MAX_COUNTER, MAX_MONEY } from "../purse/messages/index.js";

/**
 * The issuer host's JSON API (docs/issuer-protocol.md), shared by the terminal's client and the
 * simulator so both ends validate the same shapes. Card ids, challenges and MACs travel as 16 hex
 * digits; amounts and balances as integer minor units.
 */

export const Hex8 = z.string().regex(/^[0-9A-Fa-f]{16}$/, "expected 8 bytes as 16 hex digits");
const Money = z.number().int().min(1).max(MAX_MONEY);
const Balance = z.number().int().min(0).max(MAX_MONEY);
const Counter = z.number().int().min(0).max(MAX_COUNTER);
const Currency = z.number().int().min(1).max(999);
const AuthorizationId = z.number().int().min(1).max(0xffffffff);

export const SessionId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
export const OpenSessionRequest = z.object({}).strict();
export const SessionOpened = z.object({ sessionId: SessionId, challenge: Hex8 });
/**
 * The answer to DELETE /sessions/{id}: from now on no authorization is issued in that session (a
 * request still being processed either committed before, and `find` shows it, or is refused).
 */
export const SessionEnded = z.object({ sessionId: SessionId, ended: z.literal(true) });

/** The card's AUTHENTICATE answer, unchanged. */
export const VerifyRequest = z
  .object({ cardId: Hex8, counter: Counter, cardChallenge: Hex8, mac: Hex8 })
  .strict();
export const Verified = z.object({ cardId: Hex8, counter: Counter });

/** Amount, terminal and the card's INITIALIZE LOAD answer, unchanged. */
export const AuthorizeRequest = z
  .object({
    amount: Money,
    terminalId: Hex8,
    init: z
      .object({
        cardId: Hex8,
        currency: Currency,
        balance: Balance,
        counter: Counter,
        cardChallenge: Hex8,
        s1: Hex8,
      })
      .strict(),
  })
  .strict();

export const CompleteRequest = z.object({ balanceAfter: Balance, s3: Hex8 }).strict();
export const ReversalRequest = z.object({}).strict();

export const AuthorizationJson = z.object({
  authorizationId: AuthorizationId,
  status: z.enum(["issued", "applied", "reversed"]),
  cardId: Hex8,
  counter: Counter,
  amount: Money,
  currency: Currency,
  terminalId: Hex8,
  s2: Hex8,
  balanceAfter: Balance.optional(),
  issuedAt: z.string(),
  updatedAt: z.string(),
});
export type AuthorizationJson = z.infer<typeof AuthorizationJson>;
export const AuthorizationReply = z.object({ authorization: AuthorizationJson });
export const AuthorizationList = z.object({ authorizations: z.array(AuthorizationJson) });

/** Every refusal: an HTTP status and this body. */
export const ErrorReply = z.object({ code: z.string().min(1).max(64), message: z.string().max(2000) });
export type ErrorReply = z.infer<typeof ErrorReply>;

/** The error codes the issuer host answers, with their HTTP status. */
export const IssuerError = {
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  AUTHORIZATION_DECLINED: 402,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  SESSION_NOT_FOUND: 404,
  AUTHORIZATION_NOT_FOUND: 404,
  SESSION_STATE: 409,
  CARD_NOT_VERIFIED: 409,
  AUTHORIZATION_CONFLICT: 409,
  AUTHORIZATION_APPLIED: 409,
  AUTHORIZATION_REVERSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  CARD_NOT_AUTHENTIC: 422,
  INTERNAL: 500,
  LEDGER_WRITE_FAILED: 503,
} as const;
export type IssuerErrorCode = keyof typeof IssuerError;

/** A counter in a query string: decimal digits only, within the card's range. */
export function parseCounterParam(value: string | null): number | undefined {
  if (value === null || !/^\d{1,10}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= MAX_COUNTER ? n : undefined;
}
