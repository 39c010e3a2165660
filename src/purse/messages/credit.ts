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

/** CREDIT: the balance-increase message. Resending it for an applied counter returns the stored S3. */
export const INS_CREDIT = 0x52;
const WHAT = "CREDIT";

export interface CreditCommand {
  /** The counter INITIALIZE LOAD reported; S2 is bound to it. */
  counter: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
  s2: Buffer;
}

export interface CreditResponse {
  /** The counter of the credit transaction (the card's counter is now one more). */
  counter: number;
  balanceAfter: number;
  /** CMAC(K_card, 04 || cardId || counter || amount || currency || balanceAfter || S2), leftmost 8 bytes. */
  s3: Buffer;
}

const COMMAND: Struct<CreditCommand> = struct({
  counter: "u32",
  amount: "u32",
  currency: "bcd2",
  terminalId: "bytes8",
  s2: "bytes8",
});
const RESPONSE: Struct<CreditResponse> = struct({ counter: "u32", balanceAfter: "u32", s3: "bytes8" });

export function buildCredit(c: CreditCommand): CommandApdu {
  return purseCommand(INS_CREDIT, COMMAND.encode(c), true);
}

export function parseCreditCommand(cmd: CommandApdu): CreditCommand {
  expectNoParameters(cmd, WHAT);
  const c = COMMAND.decode(dataOf(cmd), WHAT);
  checkAmount(c.amount, WHAT);
  checkCurrency(c.currency, WHAT);
  return c;
}

export function serializeCreditResponse(r: CreditResponse): Buffer {
  return RESPONSE.encode(r);
}

export function parseCreditResponse(data: Buffer): CreditResponse {
  const what = `${WHAT} response`;
  const r = RESPONSE.decode(data, what);
  checkBalance(r.balanceAfter, what, "balanceAfter");
  return r;
}
