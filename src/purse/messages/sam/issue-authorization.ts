import type { CommandApdu } from "../../../pcsc/apdu/command.js";
import {
  checkAmount,
  checkBalance,
  checkCurrency,
  dataOf,
  expectNoParameters,
  purseCommand,
  type Struct,
  struct,
} from "../fields.js";
import type { InitializeLoadResponse } from "../initialize-load.js";

/**
 * VERIFY S1 AND ISSUE AUTHORIZATION: the amount and terminal id the host sent in INITIALIZE LOAD,
 * then the card's INITIALIZE LOAD answer unchanged. The SAM answers with the ledger id of the
 * authorization and S2.
 */
export const INS_ISSUE_AUTHORIZATION = 0xa2;
const WHAT = "ISSUE AUTHORIZATION";

export interface IssueAuthorizationCommand {
  amount: number;
  terminalId: Buffer;
  card: InitializeLoadResponse;
}

export interface IssueAuthorizationResponse {
  authorizationId: number;
  /** CMAC(K_card, 03 || cardId || counter || amount || currency || terminalId), leftmost 8 bytes. */
  s2: Buffer;
}

const COMMAND = struct({
  amount: "u32",
  terminalId: "bytes8",
  cardId: "bytes8",
  currency: "bcd2",
  balance: "u32",
  counter: "u32",
  cardChallenge: "bytes8",
  s1: "bytes8",
});
const RESPONSE: Struct<IssueAuthorizationResponse> = struct({ authorizationId: "u32", s2: "bytes8" });

export function buildIssueAuthorization(c: IssueAuthorizationCommand): CommandApdu {
  return purseCommand(
    INS_ISSUE_AUTHORIZATION,
    COMMAND.encode({ amount: c.amount, terminalId: c.terminalId, ...c.card }),
    true,
  );
}

export function parseIssueAuthorizationCommand(cmd: CommandApdu): IssueAuthorizationCommand {
  expectNoParameters(cmd, WHAT);
  const { amount, terminalId, ...card } = COMMAND.decode(dataOf(cmd), WHAT);
  checkAmount(amount, WHAT);
  checkCurrency(card.currency, WHAT);
  checkBalance(card.balance, WHAT);
  return { amount, terminalId, card };
}

export function serializeIssueAuthorizationResponse(r: IssueAuthorizationResponse): Buffer {
  return RESPONSE.encode(r);
}

export function parseIssueAuthorizationResponse(data: Buffer): IssueAuthorizationResponse {
  return RESPONSE.decode(data, `${WHAT} response`);
}
