import type { Command } from "commander";
import { z } from "zod";
import { ReaderViewSchema, type SystemStatusResult } from "../../api/schemas/index.js";
import { CARD_LIST_OPTION_HELP, cardListNames, cardListOrNone } from "../card-list.js";
import type { CliContext } from "../context.js";
import { formatStatus, table } from "../format.js";

/** `termhost --json readers`: the daemon's reader views, each with its card's names in smartcard_list.txt. */
export const ReadersResult = z.object({
  readers: z.array(ReaderViewSchema.extend({ cardListNames: z.array(z.string()) })),
});

const NAME_WIDTH = 48;
const shortName = (names: readonly string[]): string => {
  const first = names[0];
  if (first === undefined) return "-";
  const more = names.length > 1 ? ` (+${names.length - 1})` : "";
  return first.length > NAME_WIDTH ? `${first.slice(0, NAME_WIDTH - 1)}…${more}` : `${first}${more}`;
};

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("daemon version and uptime, PC/SC state, readers and their cards")
    .addHelpText("after", "\nExamples:\n  termhost status\n  termhost --json status | jq .readers")
    .action(() =>
      ctx.api(async (c) => {
        const s: SystemStatusResult = await c.status();
        ctx.print(s, () => formatStatus(s));
      }),
    );

  program
    .command("readers")
    .description(
      "PC/SC readers with their card state, ATR, matching device profiles and the card's name in smartcard_list.txt",
    )
    .option("--card-list <file>", CARD_LIST_OPTION_HELP)
    .addHelpText(
      "after",
      "\nCARD PROFILE is termhost's device profile; CARD LIST the first matching entry of pcsc-tools'\nsmartcard_list.txt (+n: more matching lines, all in --json or `termhost atr`).\n\nExamples:\n  termhost readers\n  termhost --json readers",
    )
    .action((o: { cardList?: string }) =>
      ctx.api(async (c) => {
        const list = cardListOrNone(o.cardList, (why) => ctx.note(why));
        const readers = (await c.status()).readers.map((r) => ({
          ...r,
          cardListNames: r.atr === null ? [] : cardListNames(list, Buffer.from(r.atr, "hex")),
        }));
        ctx.print({ readers }, () =>
          readers.length === 0
            ? "no readers (is pcscd running and a reader plugged in?)"
            : table(
                ["READER", "PROFILE", "CARD", "CARD PROFILE", "CARD LIST", "SINCE"],
                readers.map((r) => [
                  r.name,
                  r.readerProfile ?? "-",
                  r.card,
                  r.cardProfile ?? "-",
                  shortName(r.cardListNames),
                  r.since,
                ]),
              ),
        );
      }),
    );
}
