import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { z } from "zod";
import type { AdminClient } from "../../client/client.js";
import { TermhostError } from "../../errors/errors.js";
import { serializeCommand, toHex } from "../../pcsc/apdu/index.js";
import { currencyAlpha } from "../../purse/currency.js";
import {
  buildAuthenticate,
  buildGetBalance,
  buildReadLastTransaction,
  buildSelect,
  PURSE_AID,
  parseAuthenticateResponse,
  parseGetBalanceResponse,
  parseReadLastTransactionResponse,
} from "../../purse/messages/index.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { isPurse, pickReader } from "../readers.js";

export const CardInfo = z.object({
  reader: z.string(),
  /** From AUTHENTICATE with a random challenge; its MAC is not checked here (the host holds no keys). */
  cardId: z.string(),
  currency: z.string(),
  balance: z.number().int(),
  maxBalance: z.number().int(),
  counter: z.number().int(),
  lastTransaction: z
    .object({
      type: z.enum(["credit", "debit"]),
      counter: z.number().int(),
      amount: z.number().int(),
      currency: z.string(),
      balanceAfter: z.number().int(),
      terminalId: z.string(),
    })
    .nullable(),
});
export type CardInfo = z.infer<typeof CardInfo>;

const hex = (c: Parameters<typeof serializeCommand>[0]): string => toHex(serializeCommand(c));
const alpha = (n: number): string => currencyAlpha(n) ?? String(n);

/** SELECT, AUTHENTICATE, GET BALANCE, READ LAST TRANSACTION in one exclusive card session. */
export async function readCardInfo(c: AdminClient, reader: string): Promise<CardInfo> {
  const r = await c.call("admin.apdu", {
    reader,
    apdus: [
      hex(buildSelect(PURSE_AID)),
      hex(buildAuthenticate({ terminalChallenge: randomBytes(8) })),
      hex(buildGetBalance()),
      hex(buildReadLastTransaction()),
    ],
  });
  const names = ["SELECT", "AUTHENTICATE", "GET BALANCE", "READ LAST TRANSACTION"];
  const data = r.exchanges.map((x, i) => {
    if (x.kind !== "success" || x.data === null) {
      throw new TermhostError("APDU_STATUS", `${names[i]}: ${x.sw} ${x.meaning}`, {
        hint: i === 0 ? "this card has no purse application" : "see `termhost apdu` for a raw trace",
        context: { reader, sw: x.sw },
      });
    }
    return Buffer.from(x.data, "hex");
  });
  const auth = parseAuthenticateResponse(data[1] ?? Buffer.alloc(0));
  const bal = parseGetBalanceResponse(data[2] ?? Buffer.alloc(0));
  const last = parseReadLastTransactionResponse(data[3] ?? Buffer.alloc(0)).last;
  return {
    reader,
    cardId: auth.cardId.toString("hex"),
    currency: alpha(bal.currency),
    balance: bal.balance,
    maxBalance: bal.maxBalance,
    counter: bal.counter,
    lastTransaction:
      last === null
        ? null
        : {
            type: last.type,
            counter: last.counter,
            amount: last.amount,
            currency: alpha(last.currency),
            balanceAfter: last.balanceAfter,
            terminalId: last.terminalId.toString("hex"),
          },
  };
}

function formatCardInfo(i: CardInfo): string {
  const rows = [
    ["reader", i.reader],
    ["card id", `${i.cardId} (not authenticated)`],
    ["balance", `${i.balance} ${i.currency} (max ${i.maxBalance})`],
    ["counter", String(i.counter)],
  ];
  const t = i.lastTransaction;
  rows.push([
    "last",
    t === null
      ? "none"
      : `${t.type} #${t.counter} ${t.amount} ${t.currency} → ${t.balanceAfter}, terminal ${t.terminalId}`,
  ]);
  return table(["FIELD", "VALUE"], rows).split("\n").slice(1).join("\n");
}

export function registerCard(program: Command, ctx: CliContext): void {
  const card = program.command("card").description("the purse card in a reader");
  card
    .command("info")
    .description(
      "card id, balance, counter and last transaction of the purse card in a reader (raw APDUs over admin.sock)",
    )
    .option("-r, --reader <name|index>", "the reader (default: the only one holding a purse card)")
    .addHelpText("after", "\nExamples:\n  termhost card info\n  termhost --json card info --reader 0")
    .action((o: { reader?: string }) =>
      ctx.admin(async (c) => {
        const info = await readCardInfo(c, await pickReader(c, o.reader, isPurse));
        ctx.print(info, () => formatCardInfo(info));
      }),
    );
}
