import type { CommandApdu } from "../../pcsc/apdu/command.js";
import {
  checkAmount,
  checkBalance,
  checkCurrency,
  expectNoData,
  expectNoParameters,
  messageError,
  purseCommand,
  type Struct,
  struct,
} from "./fields.js";

/** READ LAST TRANSACTION: what the card last committed, with its proof, for restore after a tear. */
export const INS_READ_LAST_TRANSACTION = 0x5a;
const WHAT = "READ LAST TRANSACTION";

export const TransactionType = { NONE: 0x00, CREDIT: 0x01, DEBIT: 0x02 } as const;

export interface TransactionRecord {
  type: "credit" | "debit";
  counter: number;
  amount: number;
  currency: number;
  balanceAfter: number;
  terminalId: Buffer;
  /** The authorization the credit carried; zeros for a debit. */
  s2: Buffer;
  /** S3 of a credit, the debit proof of a debit. */
  proof: Buffer;
}

export interface ReadLastTransactionResponse {
  /** The card's counter now: the last transaction's counter + 1, or 0 for a card that has none. */
  counter: number;
  balance: number;
  last: TransactionRecord | null;
}

const RESPONSE = struct({
  counter: "u32",
  balance: "u32",
  type: "u8",
  txCounter: "u32",
  amount: "u32",
  currency: "bcd2",
  balanceAfter: "u32",
  terminalId: "bytes8",
  s2: "bytes8",
  proof: "bytes8",
});
export const READ_LAST_TRANSACTION_RESPONSE_LENGTH = RESPONSE.length;

export function buildReadLastTransaction(): CommandApdu {
  return purseCommand(INS_READ_LAST_TRANSACTION, undefined, true);
}

export function parseReadLastTransactionCommand(cmd: CommandApdu): void {
  expectNoParameters(cmd, WHAT);
  expectNoData(cmd, WHAT);
}

const ZERO8 = Buffer.alloc(8);

export function serializeReadLastTransactionResponse(r: ReadLastTransactionResponse): Buffer {
  const l = r.last;
  return RESPONSE.encode({
    counter: r.counter,
    balance: r.balance,
    type:
      l === null
        ? TransactionType.NONE
        : l.type === "credit"
          ? TransactionType.CREDIT
          : TransactionType.DEBIT,
    txCounter: l?.counter ?? 0,
    amount: l?.amount ?? 0,
    currency: l?.currency ?? 0,
    balanceAfter: l?.balanceAfter ?? 0,
    terminalId: l?.terminalId ?? ZERO8,
    s2: l?.s2 ?? ZERO8,
    proof: l?.proof ?? ZERO8,
  });
}

export function parseReadLastTransactionResponse(data: Buffer): ReadLastTransactionResponse {
  const what = `${WHAT} response`;
  const r: typeof RESPONSE extends Struct<infer T> ? T : never = RESPONSE.decode(data, what);
  checkBalance(r.balance, what);
  if (r.type === TransactionType.NONE) return { counter: r.counter, balance: r.balance, last: null };
  if (r.type !== TransactionType.CREDIT && r.type !== TransactionType.DEBIT) {
    throw messageError(`${what}: unknown transaction type ${r.type}`, "value", {
      message: what,
      field: "type",
    });
  }
  checkAmount(r.amount, what);
  checkCurrency(r.currency, what);
  checkBalance(r.balanceAfter, what, "balanceAfter");
  return {
    counter: r.counter,
    balance: r.balance,
    last: {
      type: r.type === TransactionType.CREDIT ? "credit" : "debit",
      counter: r.txCounter,
      amount: r.amount,
      currency: r.currency,
      balanceAfter: r.balanceAfter,
      terminalId: r.terminalId,
      s2: r.s2,
      proof: r.proof,
    },
  };
}
