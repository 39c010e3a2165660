import { macEquals } from "../../../src/crypto/index.js";
import type { CommandApdu } from "../../../src/pcsc/apdu/command.js";
import { serializeResponse } from "../../../src/pcsc/apdu/response.js";
import {
  INS_AUTHENTICATE,
  INS_CREDIT,
  INS_DEBIT,
  INS_GET_BALANCE,
  INS_INITIALIZE_LOAD,
  INS_READ_LAST_TRANSACTION,
  INS_SELECT,
  MAX_COUNTER,
  mac8,
  macInput,
  PURSE_CLA,
  PurseSW,
  parseAuthenticateCommand,
  parseCreditCommand,
  parseDebitCommand,
  parseGetBalanceCommand,
  parseInitializeLoadCommand,
  parseReadLastTransactionCommand,
  parseSelectCommand,
  serializeAuthenticateResponse,
  serializeCreditResponse,
  serializeDebitResponse,
  serializeGetBalanceResponse,
  serializeInitializeLoadResponse,
  serializeReadLastTransactionResponse,
  serializeSelectResponse,
  type TransactionRecord,
  verifyMac8,
} from "../../../src/purse/messages/index.js";
import { decodeAndDispatch } from "../decode-apdu.js";
import type { ValueCommand } from "./faults.js";
import type { PurseState } from "./state.js";

/** What the card keeps in RAM: lost at power-off, reset or re-selection. */
export interface PurseSession {
  selected: boolean;
  /** The challenge of this session's AUTHENTICATE; INITIALIZE LOAD signs it into S1. */
  terminalChallenge: Buffer | undefined;
}

export interface PurseContext {
  readonly aid: Buffer;
  readonly key: Buffer;
  readonly state: PurseState;
  readonly session: PurseSession;
  readonly random: (n: number) => Buffer;
}

/** A reply that changes nothing, or a new state the card must commit before it may answer. */
export type Outcome =
  | { kind: "reply"; response: Buffer }
  | { kind: "commit"; command: ValueCommand; next: PurseState; response: Buffer };

const reply = (sw: number, data: Buffer = Buffer.alloc(0)): Outcome => ({
  kind: "reply",
  response: serializeResponse({ data, sw }),
});

/** One APDU through the purse application. Pure apart from the session and the random source. */
export function handlePurseApdu(ctx: PurseContext, apdu: Buffer): Outcome {
  return decodeAndDispatch(
    apdu,
    (cmd) => dispatch(ctx, cmd),
    (sw) => reply(sw),
  );
}

function dispatch(ctx: PurseContext, cmd: CommandApdu): Outcome {
  if (cmd.cla === 0x00 && cmd.ins === INS_SELECT) return select(ctx, cmd);
  if (cmd.cla === 0x00) return reply(PurseSW.INS_NOT_SUPPORTED);
  if (cmd.cla !== PURSE_CLA) return reply(PurseSW.CLA_NOT_SUPPORTED);
  if (!ctx.session.selected) return reply(PurseSW.CONDITIONS_NOT_SATISFIED);
  switch (cmd.ins) {
    case INS_AUTHENTICATE:
      return authenticate(ctx, cmd);
    case INS_INITIALIZE_LOAD:
      return initializeLoad(ctx, cmd);
    case INS_CREDIT:
      return credit(ctx, cmd);
    case INS_DEBIT:
      return debit(ctx, cmd);
    case INS_READ_LAST_TRANSACTION:
      parseReadLastTransactionCommand(cmd);
      return reply(
        PurseSW.OK,
        serializeReadLastTransactionResponse({
          counter: ctx.state.counter,
          balance: ctx.state.balance,
          last: ctx.state.last,
        }),
      );
    case INS_GET_BALANCE:
      parseGetBalanceCommand(cmd);
      return reply(PurseSW.OK, serializeGetBalanceResponse(ctx.state));
    default:
      return reply(PurseSW.INS_NOT_SUPPORTED);
  }
}

function select(ctx: PurseContext, cmd: CommandApdu): Outcome {
  const { aid } = parseSelectCommand(cmd);
  ctx.session.terminalChallenge = undefined;
  ctx.session.selected = aid.equals(ctx.aid);
  if (!ctx.session.selected) return reply(PurseSW.NOT_FOUND);
  return reply(PurseSW.OK, serializeSelectResponse({ aid: ctx.aid }));
}

function authenticate(ctx: PurseContext, cmd: CommandApdu): Outcome {
  const { terminalChallenge } = parseAuthenticateCommand(cmd);
  const { cardId, counter } = ctx.state;
  const cardChallenge = ctx.random(8);
  const mac = mac8(ctx.key, macInput.authentication({ cardId, counter, terminalChallenge, cardChallenge }));
  ctx.session.terminalChallenge = terminalChallenge;
  return reply(PurseSW.OK, serializeAuthenticateResponse({ cardId, counter, cardChallenge, mac }));
}

function initializeLoad(ctx: PurseContext, cmd: CommandApdu): Outcome {
  const c = parseInitializeLoadCommand(cmd);
  const s = ctx.state;
  const terminalChallenge = ctx.session.terminalChallenge;
  if (terminalChallenge === undefined) return reply(PurseSW.SECURITY_NOT_SATISFIED);
  if (c.currency !== s.currency) return reply(PurseSW.CURRENCY_MISMATCH);
  if (s.counter >= MAX_COUNTER) return reply(PurseSW.COUNTER_EXHAUSTED);
  if (s.balance + c.amount > s.maxBalance) return reply(PurseSW.BALANCE_LIMIT);
  const cardChallenge = ctx.random(8);
  const signed = {
    cardId: s.cardId,
    currency: s.currency,
    balance: s.balance,
    counter: s.counter,
    cardChallenge,
  };
  const s1 = mac8(
    ctx.key,
    macInput.s1({ ...signed, amount: c.amount, terminalId: c.terminalId, terminalChallenge }),
  );
  return reply(PurseSW.OK, serializeInitializeLoadResponse({ ...signed, s1 }));
}

/** The stored answer when a command resends the card's last transaction exactly, else undefined. */
function resentLast(s: PurseState, type: TransactionRecord["type"], same: (l: TransactionRecord) => boolean) {
  const l = s.last;
  if (l === null || l.type !== type || l.counter + 1 !== s.counter || !same(l)) return undefined;
  return l;
}

function credit(ctx: PurseContext, cmd: CommandApdu): Outcome {
  const c = parseCreditCommand(cmd);
  const s = ctx.state;
  if (c.currency !== s.currency) return reply(PurseSW.CURRENCY_MISMATCH);
  const applied = resentLast(
    s,
    "credit",
    (l) =>
      l.counter === c.counter &&
      l.amount === c.amount &&
      l.terminalId.equals(c.terminalId) &&
      macEquals(l.s2, c.s2),
  );
  if (applied !== undefined) {
    return reply(
      PurseSW.OK,
      serializeCreditResponse({
        counter: applied.counter,
        balanceAfter: applied.balanceAfter,
        s3: applied.proof,
      }),
    );
  }
  if (c.counter !== s.counter) return reply(PurseSW.COUNTER_MISMATCH);
  const bound = { cardId: s.cardId, counter: c.counter, amount: c.amount, currency: c.currency };
  if (!verifyMac8(ctx.key, macInput.s2({ ...bound, terminalId: c.terminalId }), c.s2)) {
    return reply(PurseSW.MAC_INVALID);
  }
  if (s.counter >= MAX_COUNTER) return reply(PurseSW.COUNTER_EXHAUSTED);
  if (s.balance + c.amount > s.maxBalance) return reply(PurseSW.BALANCE_LIMIT);
  const balanceAfter = s.balance + c.amount;
  const s3 = mac8(ctx.key, macInput.s3({ ...bound, balanceAfter, s2: c.s2 }));
  const last: TransactionRecord = {
    type: "credit",
    counter: c.counter,
    amount: c.amount,
    currency: c.currency,
    balanceAfter,
    terminalId: c.terminalId,
    s2: c.s2,
    proof: s3,
  };
  return {
    kind: "commit",
    command: "CREDIT",
    next: { ...s, balance: balanceAfter, counter: s.counter + 1, last },
    response: serializeResponse({
      data: serializeCreditResponse({ counter: c.counter, balanceAfter, s3 }),
      sw: PurseSW.OK,
    }),
  };
}

const NO_AUTHORIZATION = Buffer.alloc(8);

function debit(ctx: PurseContext, cmd: CommandApdu): Outcome {
  const c = parseDebitCommand(cmd);
  const s = ctx.state;
  if (c.currency !== s.currency) return reply(PurseSW.CURRENCY_MISMATCH);
  const applied = resentLast(
    s,
    "debit",
    (l) => l.counter === c.counter && l.amount === c.amount && l.terminalId.equals(c.terminalId),
  );
  if (applied !== undefined) {
    return reply(
      PurseSW.OK,
      serializeDebitResponse({
        counter: applied.counter,
        balanceAfter: applied.balanceAfter,
        proof: applied.proof,
      }),
    );
  }
  if (c.counter !== s.counter) return reply(PurseSW.COUNTER_MISMATCH);
  if (s.counter >= MAX_COUNTER) return reply(PurseSW.COUNTER_EXHAUSTED);
  if (c.amount > s.balance) return reply(PurseSW.INSUFFICIENT_BALANCE);
  const balanceAfter = s.balance - c.amount;
  const bound = {
    cardId: s.cardId,
    counter: c.counter,
    amount: c.amount,
    currency: c.currency,
    balanceAfter,
  };
  const proof = mac8(ctx.key, macInput.debitProof({ ...bound, terminalId: c.terminalId }));
  const last: TransactionRecord = {
    type: "debit",
    counter: c.counter,
    amount: c.amount,
    currency: c.currency,
    balanceAfter,
    terminalId: c.terminalId,
    s2: NO_AUTHORIZATION,
    proof,
  };
  return {
    kind: "commit",
    command: "DEBIT",
    next: { ...s, balance: balanceAfter, counter: s.counter + 1, last },
    response: serializeResponse({
      data: serializeDebitResponse({ counter: c.counter, balanceAfter, proof }),
      sw: PurseSW.OK,
    }),
  };
}
