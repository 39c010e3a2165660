import { type ErrorCode, TermhostError } from "../../errors/errors.js";
import type { CommandApdu } from "../../pcsc/apdu/command.js";
import { exchange, type Transmit } from "../../pcsc/apdu/exchange.js";
import { describeStatus } from "../../pcsc/apdu/status.js";
import {
  type AuthenticateResponse,
  buildAuthenticate,
  buildCredit,
  buildDebit,
  buildInitializeLoad,
  buildReadLastTransaction,
  buildSelect,
  type CreditCommand,
  type CreditResponse,
  type DebitCommand,
  type DebitResponse,
  describePurseStatus,
  type InitializeLoadResponse,
  PURSE_AID,
  PurseSW,
  parseAuthenticateResponse,
  parseCreditResponse,
  parseDebitResponse,
  parseInitializeLoadResponse,
  parseReadLastTransactionResponse,
  type ReadLastTransactionResponse,
} from "../messages/index.js";

const CARD_ERRORS: ReadonlyMap<number, { code: ErrorCode; hint: string }> = new Map([
  [
    PurseSW.MAC_INVALID,
    { code: "CARD_NOT_AUTHENTIC", hint: "the card refused a cryptogram; it may be forged or replayed" },
  ],
  [PurseSW.BALANCE_LIMIT, { code: "LIMIT_EXCEEDED", hint: "the card's balance would exceed its maximum" }],
  [
    PurseSW.INSUFFICIENT_BALANCE,
    { code: "VALUE_REFUSED", hint: "the card's balance is too low for this debit" },
  ],
  [PurseSW.CURRENCY_MISMATCH, { code: "VALUE_REFUSED", hint: "the card holds another currency" }],
  [
    PurseSW.COUNTER_EXHAUSTED,
    { code: "VALUE_REFUSED", hint: "the card takes no more value transactions; replace it" },
  ],
  [
    PurseSW.COUNTER_MISMATCH,
    { code: "VALUE_REFUSED", hint: "the card moved on since this transaction began" },
  ],
]);

/** The card's answer to a purse command, or a typed error naming the status word's meaning. */
async function send(transmit: Transmit, cmd: CommandApdu, what: string): Promise<Buffer> {
  const r = await exchange(transmit, cmd, { accept: () => true });
  if (r.sw === PurseSW.OK) return r.data;
  const meaning = describePurseStatus(r.sw) ?? describeStatus(r.sw);
  const known = CARD_ERRORS.get(r.sw);
  const sw = r.sw.toString(16).toUpperCase().padStart(4, "0");
  throw new TermhostError(known?.code ?? "APDU_STATUS", `${what}: the card answered ${sw} (${meaning})`, {
    hint: known?.hint ?? "the card did not accept the command",
    context: { sw, command: what },
  });
}

/**
 * The terminal's side of the purse application on one connected card. Every answer is decoded by
 * the shared codec; a short or malformed answer (a bare 9000 included) is APDU_MALFORMED, never a
 * success.
 */
export class PurseCardOps {
  constructor(private readonly transmit: Transmit) {}

  async select(): Promise<void> {
    await send(this.transmit, buildSelect(PURSE_AID), "SELECT purse");
  }

  async authenticate(terminalChallenge: Buffer): Promise<AuthenticateResponse> {
    return parseAuthenticateResponse(
      await send(this.transmit, buildAuthenticate({ terminalChallenge }), "AUTHENTICATE"),
    );
  }

  async initializeLoad(
    amount: number,
    currency: number,
    terminalId: Buffer,
  ): Promise<InitializeLoadResponse> {
    return parseInitializeLoadResponse(
      await send(this.transmit, buildInitializeLoad({ amount, currency, terminalId }), "INITIALIZE LOAD"),
    );
  }

  async credit(cmd: CreditCommand): Promise<CreditResponse> {
    return parseCreditResponse(await send(this.transmit, buildCredit(cmd), "CREDIT"));
  }

  async debit(cmd: DebitCommand): Promise<DebitResponse> {
    return parseDebitResponse(await send(this.transmit, buildDebit(cmd), "DEBIT"));
  }

  async readLastTransaction(): Promise<ReadLastTransactionResponse> {
    return parseReadLastTransactionResponse(
      await send(this.transmit, buildReadLastTransaction(), "READ LAST TRANSACTION"),
    );
  }
}
