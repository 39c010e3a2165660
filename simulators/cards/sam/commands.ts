import type { CommandApdu } from "../../../src/pcsc/apdu/command.js";
import { serializeResponse } from "../../../src/pcsc/apdu/response.js";
import {
  INS_FIND_AUTHORIZATION,
  INS_GET_CHALLENGE,
  INS_ISSUE_AUTHORIZATION,
  INS_READ_AUTHORIZATION,
  INS_REPORT_REVERSAL,
  INS_SELECT,
  INS_VERIFY_AUTHENTICATION,
  INS_VERIFY_COMPLETION,
  PURSE_CLA,
  PurseSW,
  parseAuthorizationIdCommand,
  parseFindAuthorizationCommand,
  parseGetChallengeCommand,
  parseIssueAuthorizationCommand,
  parseSelectCommand,
  parseVerifyAuthenticationCommand,
  parseVerifyCompletionCommand,
  serializeAuthorizationRecord,
  serializeGetChallengeResponse,
  serializeIssueAuthorizationResponse,
  serializeSelectResponse,
} from "../../../src/purse/messages/index.js";
import { decodeAndDispatch } from "../decode-apdu.js";
import {
  authorizationById,
  completeAuthorization,
  findAuthorization,
  issueAuthorization as issue,
  recordOf,
  reverseAuthorization,
  type VerifiedCard,
  verifyCardAuthentication,
} from "./authorization-rules.js";
import { DESFIRE_INS, type DesfireSamSession, handleDesfire } from "./desfire-commands.js";
import type { Ledger, LedgerEntry } from "./ledger.js";

/** The SAM's RAM: one challenge, then one verified card, then one authorization. */
export interface SamSession {
  selected: boolean;
  challenge: Buffer | undefined;
  verified: VerifiedCard | undefined;
  /** A DESFire card being authenticated, or authenticated, through the SAM. */
  desfire?: DesfireSamSession | undefined;
}

export interface SamContext {
  readonly aid: Buffer;
  readonly masterKey: Buffer;
  readonly ledger: Ledger;
  readonly session: SamSession;
  readonly random: (n: number) => Buffer;
  readonly now: () => string;
}

/** A reply, or a new ledger the SAM must persist before it may answer. */
export type SamOutcome =
  | { kind: "reply"; response: Buffer }
  | { kind: "commit"; next: Ledger; response: Buffer };

const reply = (sw: number, data: Buffer = Buffer.alloc(0)): SamOutcome => ({
  kind: "reply",
  response: serializeResponse({ data, sw }),
});

export function handleSamApdu(ctx: SamContext, apdu: Buffer): SamOutcome | Promise<SamOutcome> {
  return decodeAndDispatch<SamOutcome | Promise<SamOutcome>>(
    apdu,
    (cmd) => dispatch(ctx, cmd),
    (sw) => reply(sw),
  );
}

function dispatch(ctx: SamContext, cmd: CommandApdu): SamOutcome | Promise<SamOutcome> {
  if (cmd.cla === 0x00 && cmd.ins === INS_SELECT) {
    const { aid } = parseSelectCommand(cmd);
    Object.assign(ctx.session, {
      selected: aid.equals(ctx.aid),
      challenge: undefined,
      verified: undefined,
      desfire: undefined,
    });
    return ctx.session.selected
      ? reply(PurseSW.OK, serializeSelectResponse({ aid: ctx.aid }))
      : reply(PurseSW.NOT_FOUND);
  }
  if (cmd.cla === 0x00 && cmd.ins === INS_GET_CHALLENGE) {
    if (!ctx.session.selected) return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
    parseGetChallengeCommand(cmd);
    ctx.session.challenge = ctx.random(8);
    ctx.session.verified = undefined;
    return reply(PurseSW.OK, serializeGetChallengeResponse(ctx.session.challenge));
  }
  if (cmd.cla === 0x00) return reply(PurseSW.INS_NOT_SUPPORTED);
  if (cmd.cla !== PURSE_CLA) return reply(PurseSW.CLA_NOT_SUPPORTED);
  if (!ctx.session.selected) return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
  if (DESFIRE_INS.has(cmd.ins)) return handleDesfire(ctx, cmd);
  switch (cmd.ins) {
    case INS_VERIFY_AUTHENTICATION:
      return verifyAuthentication(ctx, cmd);
    case INS_ISSUE_AUTHORIZATION:
      return issueAuthorization(ctx, cmd);
    case INS_VERIFY_COMPLETION:
      return verifyCompletion(ctx, cmd);
    case INS_REPORT_REVERSAL:
      return reportReversal(ctx, cmd);
    case INS_READ_AUTHORIZATION: {
      const { authorizationId } = parseAuthorizationIdCommand(cmd, INS_READ_AUTHORIZATION);
      const entry = authorizationById(ctx.ledger, authorizationId);
      return entry === undefined ? reply(PurseSW.REFERENCE_NOT_FOUND) : reply(PurseSW.OK, recordBytes(entry));
    }
    case INS_FIND_AUTHORIZATION: {
      const { cardId, counter } = parseFindAuthorizationCommand(cmd);
      const entry = findAuthorization(ctx.ledger, cardId, counter);
      return entry === undefined ? reply(PurseSW.REFERENCE_NOT_FOUND) : reply(PurseSW.OK, recordBytes(entry));
    }
    default:
      return reply(PurseSW.INS_NOT_SUPPORTED);
  }
}

function verifyAuthentication(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const card = parseVerifyAuthenticationCommand(cmd);
  const terminalChallenge = ctx.session.challenge;
  // Each challenge verifies at most one answer, so a recorded answer never verifies twice.
  ctx.session.challenge = undefined;
  ctx.session.verified = undefined;
  if (terminalChallenge === undefined) return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
  const verified = verifyCardAuthentication(ctx.masterKey, terminalChallenge, card);
  if (verified === undefined) return reply(PurseSW.MAC_INVALID);
  ctx.session.verified = verified;
  return reply(PurseSW.OK);
}

function issueAuthorization(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const request = parseIssueAuthorizationCommand(cmd);
  const verified = ctx.session.verified;
  ctx.session.verified = undefined;
  const outcome = issue(ctx.masterKey, ctx.ledger, verified, request, ctx.now());
  switch (outcome.kind) {
    case "not-verified":
      return reply(PurseSW.SECURITY_NOT_SATISFIED);
    case "s1-invalid":
      return reply(PurseSW.MAC_INVALID);
    case "conflict":
    case "declined":
      return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
    case "existing":
      return reply(PurseSW.OK, authorizationResponse(outcome.entry));
    case "issued":
      return commit(outcome.next, authorizationResponse(outcome.entry));
  }
}

function verifyCompletion(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const c = parseVerifyCompletionCommand(cmd);
  const outcome = completeAuthorization(
    ctx.masterKey,
    ctx.ledger,
    c.authorizationId,
    c.balanceAfter,
    c.s3,
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
      return commit(outcome.next, Buffer.alloc(0));
  }
}

function reportReversal(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const { authorizationId } = parseAuthorizationIdCommand(cmd, INS_REPORT_REVERSAL);
  const outcome = reverseAuthorization(ctx.ledger, authorizationId, ctx.now());
  switch (outcome.kind) {
    case "not-found":
      return reply(PurseSW.REFERENCE_NOT_FOUND);
    case "applied":
      return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
    case "already-reversed":
      return reply(PurseSW.OK, recordBytes(outcome.entry));
    case "reversed":
      return commit(outcome.next, recordBytes(outcome.entry));
  }
}

function commit(next: Ledger, data: Buffer): SamOutcome {
  return { kind: "commit", next, response: serializeResponse({ data, sw: PurseSW.OK }) };
}

function authorizationResponse(e: LedgerEntry): Buffer {
  return serializeIssueAuthorizationResponse({ authorizationId: e.authorizationId, s2: e.s2 });
}

function recordBytes(e: LedgerEntry): Buffer {
  return serializeAuthorizationRecord(recordOf(e));
}
