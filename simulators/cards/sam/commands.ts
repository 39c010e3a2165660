import { type CommandApdu, parseCommand } from "../../../src/pcsc/apdu/command.js";
import { serializeResponse } from "../../../src/pcsc/apdu/response.js";
import {
  type AuthorizationRecord,
  fieldProblemOf,
  INS_FIND_AUTHORIZATION,
  INS_GET_CHALLENGE,
  INS_ISSUE_AUTHORIZATION,
  INS_READ_AUTHORIZATION,
  INS_REPORT_REVERSAL,
  INS_SELECT,
  INS_VERIFY_AUTHENTICATION,
  INS_VERIFY_COMPLETION,
  mac8,
  macInput,
  PURSE_CLA,
  PurseSW,
  parseAuthorizationIdCommand,
  parseFindAuthorizationCommand,
  parseGetChallengeCommand,
  parseIssueAuthorizationCommand,
  parseSelectCommand,
  parseVerifyAuthenticationCommand,
  parseVerifyCompletionCommand,
  purseCardKey,
  serializeAuthorizationRecord,
  serializeGetChallengeResponse,
  serializeIssueAuthorizationResponse,
  serializeSelectResponse,
  verifyMac8,
} from "../../../src/purse/messages/index.js";
import type { Ledger, LedgerEntry } from "./ledger.js";

/** The SAM's RAM: one challenge, then one verified card, then one authorization. */
export interface SamSession {
  selected: boolean;
  challenge: Buffer | undefined;
  verified: { cardId: Buffer; counter: number; terminalChallenge: Buffer } | undefined;
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

export function handleSamApdu(ctx: SamContext, apdu: Buffer): SamOutcome {
  let cmd: CommandApdu;
  try {
    cmd = parseCommand(apdu);
  } catch {
    return reply(PurseSW.WRONG_LENGTH);
  }
  try {
    return dispatch(ctx, cmd);
  } catch (e) {
    switch (fieldProblemOf(e)) {
      case "length":
        return reply(PurseSW.WRONG_LENGTH);
      case "value":
        return reply(PurseSW.DATA_INVALID);
      case "p1p2":
        return reply(PurseSW.P1P2_INVALID);
      default:
        throw e;
    }
  }
}

function dispatch(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  if (cmd.cla === 0x00 && cmd.ins === INS_SELECT) {
    const { aid } = parseSelectCommand(cmd);
    Object.assign(ctx.session, { selected: aid.equals(ctx.aid), challenge: undefined, verified: undefined });
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
      const entry = ctx.ledger.entries.find((e) => e.authorizationId === authorizationId);
      return entry === undefined ? reply(PurseSW.REFERENCE_NOT_FOUND) : reply(PurseSW.OK, recordOf(entry));
    }
    case INS_FIND_AUTHORIZATION: {
      const { cardId, counter } = parseFindAuthorizationCommand(cmd);
      const entry = ctx.ledger.entries.findLast((e) => e.cardId.equals(cardId) && e.counter === counter);
      return entry === undefined ? reply(PurseSW.REFERENCE_NOT_FOUND) : reply(PurseSW.OK, recordOf(entry));
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
  const key = purseCardKey(ctx.masterKey, card.cardId);
  if (!verifyMac8(key, macInput.authentication({ ...card, terminalChallenge }), card.mac)) {
    return reply(PurseSW.MAC_INVALID);
  }
  ctx.session.verified = { cardId: card.cardId, counter: card.counter, terminalChallenge };
  return reply(PurseSW.OK);
}

function issueAuthorization(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const { amount, terminalId, card } = parseIssueAuthorizationCommand(cmd);
  const v = ctx.session.verified;
  ctx.session.verified = undefined;
  if (v === undefined || !v.cardId.equals(card.cardId) || v.counter !== card.counter) {
    return reply(PurseSW.SECURITY_NOT_SATISFIED);
  }
  const key = purseCardKey(ctx.masterKey, card.cardId);
  const s1Input = macInput.s1({ ...card, amount, terminalId, terminalChallenge: v.terminalChallenge });
  if (!verifyMac8(key, s1Input, card.s1)) return reply(PurseSW.MAC_INVALID);
  const terms = { cardId: card.cardId, counter: card.counter, amount, currency: card.currency, terminalId };
  const open = ctx.ledger.entries.find(
    (e) => e.status === "issued" && e.cardId.equals(card.cardId) && e.counter === card.counter,
  );
  if (open !== undefined) {
    // S2 is a function of the terms, so a second request for the same card, counter and terms is the
    // same authorization; different terms wait until the open one is reversed.
    const same =
      open.amount === amount && open.currency === card.currency && open.terminalId.equals(terminalId);
    if (!same) return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
    return reply(
      PurseSW.OK,
      serializeIssueAuthorizationResponse({ authorizationId: open.authorizationId, s2: open.s2 }),
    );
  }
  const s2 = mac8(key, macInput.s2(terms));
  const at = ctx.now();
  const entry: LedgerEntry = {
    authorizationId: ctx.ledger.nextAuthorizationId,
    status: "issued",
    ...terms,
    s2,
    issuedAt: at,
    updatedAt: at,
  };
  return {
    kind: "commit",
    next: {
      nextAuthorizationId: ctx.ledger.nextAuthorizationId + 1,
      entries: [...ctx.ledger.entries, entry],
    },
    response: serializeResponse({
      data: serializeIssueAuthorizationResponse({ authorizationId: entry.authorizationId, s2 }),
      sw: PurseSW.OK,
    }),
  };
}

function verifyCompletion(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const c = parseVerifyCompletionCommand(cmd);
  const entry = ctx.ledger.entries.find((e) => e.authorizationId === c.authorizationId);
  if (entry === undefined) return reply(PurseSW.REFERENCE_NOT_FOUND);
  const key = purseCardKey(ctx.masterKey, entry.cardId);
  if (!verifyMac8(key, macInput.s3({ ...entry, balanceAfter: c.balanceAfter }), c.s3)) {
    return reply(PurseSW.MAC_INVALID);
  }
  // A valid S3 is the card's word that the credit happened: a reversed authorization that verifies
  // is a contradiction the terminal must escalate, not something to paper over.
  if (entry.status === "reversed") return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
  if (entry.status === "applied") return reply(PurseSW.OK);
  return commitEntry(
    ctx,
    { ...entry, status: "applied", balanceAfter: c.balanceAfter, updatedAt: ctx.now() },
    false,
  );
}

function reportReversal(ctx: SamContext, cmd: CommandApdu): SamOutcome {
  const { authorizationId } = parseAuthorizationIdCommand(cmd, INS_REPORT_REVERSAL);
  const entry = ctx.ledger.entries.find((e) => e.authorizationId === authorizationId);
  if (entry === undefined) return reply(PurseSW.REFERENCE_NOT_FOUND);
  if (entry.status === "applied") return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
  if (entry.status === "reversed") return reply(PurseSW.OK, recordOf(entry));
  return commitEntry(ctx, { ...entry, status: "reversed", updatedAt: ctx.now() }, true);
}

function commitEntry(ctx: SamContext, updated: LedgerEntry, withRecord: boolean): SamOutcome {
  const entries = ctx.ledger.entries.map((e) =>
    e.authorizationId === updated.authorizationId ? updated : e,
  );
  return {
    kind: "commit",
    next: { ...ctx.ledger, entries },
    response: serializeResponse({ data: withRecord ? recordOf(updated) : Buffer.alloc(0), sw: PurseSW.OK }),
  };
}

function recordOf(e: LedgerEntry): Buffer {
  const r: AuthorizationRecord = {
    authorizationId: e.authorizationId,
    status: e.status,
    cardId: e.cardId,
    counter: e.counter,
    amount: e.amount,
    currency: e.currency,
    terminalId: e.terminalId,
    s2: e.s2,
  };
  return serializeAuthorizationRecord(r);
}
