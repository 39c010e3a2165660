import type { Command } from "commander";
import { explainAtr, formatAtr } from "../atr-explain.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { cardProfilesOrNone, defaultProfilesDir } from "../profiles.js";

export function registerAtr(program: Command, ctx: CliContext): void {
  program
    .command("atr")
    .description(
      "explain an ATR (ISO 7816-3) and match it against the device profiles; works without the daemon",
    )
    .argument("<hex...>", "the ATR in hex; spaces and colons allowed")
    .option("--profiles <dir>", "device-profiles folder", defaultProfilesDir())
    .addHelpText(
      "after",
      "\nExit 0 for a well-formed ATR, 11 when it breaks ISO 7816-3 (it is still explained and matched).\n\nExamples:\n  termhost atr 3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95\n  termhost --json atr 3b8a80018055544853414d8290008f",
    )
    .action(async (hex: string[], o: { profiles: string }) => {
      const cards = await cardProfilesOrNone(o.profiles, (why) => ctx.note(`termhost: ${why}`));
      const x = explainAtr(hex.join(" "), cards);
      ctx.print(x, () => formatAtr(x));
      if (x.defect !== null) throw new CliExit(Exit.INVALID_DATA);
    });
}
