import type { CommandApdu } from "../../pcsc/apdu/command.js";
import {
  checkAmount,
  checkBalance,
  checkCurrency,
  dataOf,
  expectNoParameters,
  purseCommand,
  type Struct,
  struct,
} from "./fields.js";

/** DEBIT: a purchase. Resending it for an applied counter returns the stored proof, never debits twice. */
export const INS_DEBIT = 0x54;
const WHAT = "DEBIT";

export interface DebitCommand {
  /** The card's current counter (from AUTHENTICATE or GET BALANCE). */
  counter: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
}

export interface DebitResponse {
  counter: number;
  balanceAfter: number;
  /** CMAC(K_card, 05 || cardId || counter || amount || currency || balanceAfter || terminalId), leftmost 8 bytes. */
  proof: Buffer;
}

const COMMAND: Struct<DebitCommand> = struct({
  counter: "u32",
  amount: "u32",
  currency: "bcd2",
  terminalId: "bytes8",
});
const RESPONSE: Struct<DebitResponse> = struct({ counter: "u32", balanceAfter: "u32", proof: "bytes8" });

export function buildDebit(c: DebitCommand): CommandApdu {
  return purseCommand(INS_DEBIT, COMMAND.encode(c), true);
}

export function parseDebitCommand(cmd: CommandApdu): DebitCommand {
  expectNoParameters(cmd, WHAT);
  const c = COMMAND.decode(dataOf(cmd), WHAT);
  checkAmount(c.amount, WHAT);
  checkCurrency(c.currency, WHAT);
  return c;
}

export function serializeDebitResponse(r: DebitResponse): Buffer {
  return RESPONSE.encode(r);
}

export function parseDebitResponse(data: Buffer): DebitResponse {
  const what = `${WHAT} response`;
  const r = RESPONSE.decode(data, what);
  checkBalance(r.balanceAfter, what, "balanceAfter");
  return r;
}
