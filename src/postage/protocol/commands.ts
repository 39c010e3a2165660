import { Command } from "./constants.js";
import type { Codec } from "./messages/common.js";
import { LastTransactionCodec } from "./messages/last-transaction.js";
import { EmptyCodec, PingCodec } from "./messages/ping.js";
import { IndiciumCodec, PrintRequestCodec } from "./messages/print.js";
import { RefillRequestCodec } from "./messages/refill.js";
import { RegistersCodec } from "./messages/registers.js";
import { MeterStatusCodec } from "./messages/status.js";

export interface CommandSpec<Req, Res> {
  code: Command;
  name: string;
  request: Codec<Req>;
  /** Codec of the body of an OK response (after the result byte). */
  response: Codec<Res>;
  /** Moves value: carries a transaction id, and the meter never applies one id twice. */
  valueMoving: boolean;
}

function spec<Req, Res>(
  code: Command,
  name: string,
  request: Codec<Req>,
  response: Codec<Res>,
  valueMoving = false,
): CommandSpec<Req, Res> {
  return { code, name, request, response, valueMoving };
}

/** The command table shared by the host link and the meter simulator. */
export const Commands = {
  ping: spec(Command.PING, "PING", PingCodec, PingCodec),
  getStatus: spec(Command.GET_STATUS, "GET STATUS", EmptyCodec, MeterStatusCodec),
  getRegisters: spec(Command.GET_REGISTERS, "GET REGISTERS", EmptyCodec, RegistersCodec),
  print: spec(Command.PRINT_INDICIUM, "PRINT INDICIUM", PrintRequestCodec, IndiciumCodec, true),
  refill: spec(Command.REFILL, "REFILL", RefillRequestCodec, RegistersCodec, true),
  getLastTransaction: spec(
    Command.GET_LAST_TRANSACTION,
    "GET LAST TRANSACTION",
    EmptyCodec,
    LastTransactionCodec,
  ),
  clearBatch: spec(Command.CLEAR_BATCH, "CLEAR BATCH", EmptyCodec, RegistersCodec),
} as const;

export function commandName(code: number): string {
  return (
    Object.values(Commands).find((c) => c.code === code)?.name ?? `0x${code.toString(16).padStart(2, "0")}`
  );
}
