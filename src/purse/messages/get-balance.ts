import type { CommandApdu } from "../../pcsc/apdu/command.js";
import {
  checkBalance,
  checkCurrency,
  expectNoData,
  expectNoParameters,
  purseCommand,
  type Struct,
  struct,
} from "./fields.js";

/** GET BALANCE: public facts of the purse, unauthenticated (a debit needs the counter and limits). */
export const INS_GET_BALANCE = 0x5c;
const WHAT = "GET BALANCE";

export interface GetBalanceResponse {
  currency: number;
  balance: number;
  maxBalance: number;
  counter: number;
}

const RESPONSE: Struct<GetBalanceResponse> = struct({
  currency: "bcd2",
  balance: "u32",
  maxBalance: "u32",
  counter: "u32",
});

export function buildGetBalance(): CommandApdu {
  return purseCommand(INS_GET_BALANCE, undefined, true);
}

export function parseGetBalanceCommand(cmd: CommandApdu): void {
  expectNoParameters(cmd, WHAT);
  expectNoData(cmd, WHAT);
}

export function serializeGetBalanceResponse(r: GetBalanceResponse): Buffer {
  return RESPONSE.encode(r);
}

export function parseGetBalanceResponse(data: Buffer): GetBalanceResponse {
  const what = `${WHAT} response`;
  const r = RESPONSE.decode(data, what);
  checkCurrency(r.currency, what);
  checkBalance(r.balance, what);
  checkBalance(r.maxBalance, what, "maxBalance");
  return r;
}
