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

/** INITIALIZE LOAD: the card states its balance and counter and signs them in S1 for the SAM. */
export const INS_INITIALIZE_LOAD = 0x50;
const WHAT = "INITIALIZE LOAD";

export interface InitializeLoadCommand {
  amount: number;
  currency: number;
  terminalId: Buffer;
}

export interface InitializeLoadResponse {
  cardId: Buffer;
  currency: number;
  balance: number;
  counter: number;
  /** Fresh per INITIALIZE LOAD, so no two S1 are alike. */
  cardChallenge: Buffer;
  /** CMAC(K_card, 02 || …) over this response, the command and the authentication's terminal challenge. */
  s1: Buffer;
}

const COMMAND: Struct<InitializeLoadCommand> = struct({
  amount: "u32",
  currency: "bcd2",
  terminalId: "bytes8",
});
export const INITIALIZE_LOAD_RESPONSE: Struct<InitializeLoadResponse> = struct({
  cardId: "bytes8",
  currency: "bcd2",
  balance: "u32",
  counter: "u32",
  cardChallenge: "bytes8",
  s1: "bytes8",
});

export function buildInitializeLoad(c: InitializeLoadCommand): CommandApdu {
  return purseCommand(INS_INITIALIZE_LOAD, COMMAND.encode(c), true);
}

export function parseInitializeLoadCommand(cmd: CommandApdu): InitializeLoadCommand {
  expectNoParameters(cmd, WHAT);
  const c = COMMAND.decode(dataOf(cmd), WHAT);
  checkAmount(c.amount, WHAT);
  checkCurrency(c.currency, WHAT);
  return c;
}

export function serializeInitializeLoadResponse(r: InitializeLoadResponse): Buffer {
  return INITIALIZE_LOAD_RESPONSE.encode(r);
}

export function parseInitializeLoadResponse(data: Buffer): InitializeLoadResponse {
  const what = `${WHAT} response`;
  const r = INITIALIZE_LOAD_RESPONSE.decode(data, what);
  checkCurrency(r.currency, what);
  checkBalance(r.balance, what);
  return r;
}
