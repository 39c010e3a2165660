import type { Command } from "commander";
import { explainAtr, formatAtr } from "../atr-explain.js";
import { CARD_LIST_OPTION_HELP, cardListOrNone, cardListSummary } from "../card-list.js";
import { dim } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { cardProfilesOrNone, defaultProfilesDir } from "../profiles.js";

export function registerAtr(program: Command, ctx: CliContext): void {
  program
    .command("atr")
    .description(
      "explain an ATR (ISO 7816-3), match it against the device profiles and name it from smartcard_list.txt; works without the daemon",
    )
    .argument("<hex...>", "the ATR in hex; spaces and colons allowed")
    .option("--profiles <dir>", "device-profiles folder", defaultProfilesDir())
    .option("--card-list <file>", CARD_LIST_OPTION_HELP)
    .addHelpText(
      "after",
      "\nExit 0 for an ATR that can be explained, also with warnings (missing-tck, unexpected-tck, trailing-bytes);\n11 when it is truncated, not an ATR, or its TCK does not check (still matched and named).\n\nExamples:\n  termhost atr 3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95\n  termhost --json atr 3b8a80018055544853414d8290008f",
    )
    .action(async (hex: string[], o: { profiles: string; cardList?: string }) => {
      const cards = await cardProfilesOrNone(o.profiles, (why) => ctx.note(`termhost: ${why}`));
      const list = cardListOrNone(o.cardList, (why) => ctx.note(why));
      const x = explainAtr(hex.join(" "), cards, list);
      ctx.print(x, () =>
        x.cardList === null
          ? formatAtr(x)
          : `${formatAtr(x)}\n${dim(`  card list from ${x.cardList.file}: ${cardListSummary(x.cardList)}`)}`,
      );
      if (x.defect !== null) throw new CliExit(Exit.INVALID_DATA);
    });
}
