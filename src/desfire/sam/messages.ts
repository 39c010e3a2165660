import type { CommandApdu } from "../../pcsc/apdu/command.js";
import {
  checkAmount,
  checkBalance,
  checkCurrency,
  dataOf,
  expectNoParameters,
  messageError,
  purseCommand,
  type Struct,
  struct,
} from "../../purse/messages/fields.js";
import type { DesfireSessionKeys } from "../protocol/index.js";

/**
 * The SAM's DESFire commands (CLA 80 like its purse commands). The SAM holds the DESFire master
 * keys, diversifies them per card (AN10922), runs the card authentication's cryptography for the
 * host and hands it the session keys of that one card session; it issues and records the
 * authorization of each credit in the same ledger as the purse's.
 */
export const INS_DESFIRE_AUTH_CHALLENGE = 0xb0;
export const INS_DESFIRE_AUTH_FINISH = 0xb2;
export const INS_DESFIRE_ISSUE_AUTHORIZATION = 0xb4;
export const INS_DESFIRE_VERIFY_COMPLETION = 0xb6;

export type DesfireAuthMode = "ev2" | "ev1";
const MODE_BYTE: Record<DesfireAuthMode, number> = { ev2: 0x01, ev1: 0x02 };

export interface DesfireAuthChallengeCommand {
  mode: DesfireAuthMode;
  keyNo: number;
  /** 0xDF ‖ the card's 7-byte UID. */
  cardId: Buffer;
  encRndB: Buffer;
}

const CHALLENGE_HEAD = struct({ mode: "u8", keyNo: "u8", cardId: "bytes8" });
const BLOCK = 16;

function exact(b: Buffer, n: number, what: string): Buffer {
  if (b.length !== n) {
    throw messageError(`${what}: expected ${n} bytes, got ${b.length}`, "length", { message: what });
  }
  return b;
}

export function buildDesfireAuthChallenge(c: DesfireAuthChallengeCommand): CommandApdu {
  const head = CHALLENGE_HEAD.encode({ mode: MODE_BYTE[c.mode], keyNo: c.keyNo, cardId: c.cardId });
  const body = Buffer.concat([head, exact(c.encRndB, BLOCK, "DESFIRE AUTH CHALLENGE")]);
  return purseCommand(INS_DESFIRE_AUTH_CHALLENGE, body, true);
}

export function parseDesfireAuthChallenge(cmd: CommandApdu): DesfireAuthChallengeCommand {
  const what = "DESFIRE AUTH CHALLENGE";
  expectNoParameters(cmd, what);
  const data = exact(dataOf(cmd), CHALLENGE_HEAD.length + BLOCK, what);
  const head = CHALLENGE_HEAD.decode(data.subarray(0, CHALLENGE_HEAD.length), what);
  const mode = head.mode === 0x01 ? "ev2" : head.mode === 0x02 ? "ev1" : undefined;
  if (mode === undefined || head.keyNo > 13) {
    throw messageError(`${what}: unknown mode or key number`, "value", { message: what });
  }
  return { mode, keyNo: head.keyNo, cardId: head.cardId, encRndB: data.subarray(CHALLENGE_HEAD.length) };
}

/** The host's step-1 answer for the card: 32 bytes. */
export function parseDesfireAuthChallengeResponse(data: Buffer): Buffer {
  return exact(data, 2 * BLOCK, "DESFIRE AUTH CHALLENGE response");
}

/** The card's final answer, relayed: 32 bytes (EV2) or 16 (EV1). */
export function buildDesfireAuthFinish(cardAnswer: Buffer): CommandApdu {
  return purseCommand(INS_DESFIRE_AUTH_FINISH, cardAnswer, true);
}

export function parseDesfireAuthFinish(cmd: CommandApdu): Buffer {
  const what = "DESFIRE AUTH FINISH";
  expectNoParameters(cmd, what);
  const data = dataOf(cmd);
  if (data.length !== BLOCK && data.length !== 2 * BLOCK) {
    throw messageError(`${what}: expected 16 or 32 bytes, got ${data.length}`, "length", { message: what });
  }
  return data;
}

export function serializeDesfireSessionKeys(k: DesfireSessionKeys): Buffer {
  return k.kind === "ev2" ? Buffer.concat([k.ti, k.encKey, k.macKey]) : Buffer.from(k.sessionKey);
}

/** EV2: TI(4) ‖ SesAuthENCKey ‖ SesAuthMACKey; EV1: the session key. */
export function parseDesfireSessionKeys(mode: DesfireAuthMode, data: Buffer): DesfireSessionKeys {
  const what = "DESFIRE AUTH FINISH response";
  if (mode === "ev1") return { kind: "ev1", sessionKey: exact(data, BLOCK, what) };
  exact(data, 4 + 2 * BLOCK, what);
  return {
    kind: "ev2",
    ti: data.subarray(0, 4),
    encKey: data.subarray(4, 4 + BLOCK),
    macKey: data.subarray(4 + BLOCK),
  };
}

/** What the card showed in the session the SAM authenticated: the terms of the credit asked for. */
export interface DesfireIssueCommand {
  cardId: Buffer;
  /** The highest sequence number in the card's log. */
  counter: number;
  balance: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
}

const ISSUE: Struct<DesfireIssueCommand> = struct({
  cardId: "bytes8",
  counter: "u32",
  balance: "u32",
  amount: "u32",
  currency: "bcd2",
  terminalId: "bytes8",
});

export function buildDesfireIssue(c: DesfireIssueCommand): CommandApdu {
  return purseCommand(INS_DESFIRE_ISSUE_AUTHORIZATION, ISSUE.encode(c), true);
}

export function parseDesfireIssue(cmd: CommandApdu): DesfireIssueCommand {
  const what = "DESFIRE ISSUE AUTHORIZATION";
  expectNoParameters(cmd, what);
  const c = ISSUE.decode(dataOf(cmd), what);
  checkAmount(c.amount, what);
  checkCurrency(c.currency, what);
  checkBalance(c.balance, what);
  return c;
}

export interface DesfireCompletionCommand {
  authorizationId: number;
  balanceAfter: number;
  /** The authorization MAC as the card's log record holds it. */
  authMac: Buffer;
}

const COMPLETION: Struct<DesfireCompletionCommand> = struct({
  authorizationId: "u32",
  balanceAfter: "u32",
  authMac: "bytes8",
});

export function buildDesfireCompletion(c: DesfireCompletionCommand): CommandApdu {
  return purseCommand(INS_DESFIRE_VERIFY_COMPLETION, COMPLETION.encode(c), false);
}

export function parseDesfireCompletion(cmd: CommandApdu): DesfireCompletionCommand {
  const what = "DESFIRE VERIFY COMPLETION";
  expectNoParameters(cmd, what);
  const c = COMPLETION.decode(dataOf(cmd), what);
  checkBalance(c.balanceAfter, what, "balanceAfter");
  return c;
}
