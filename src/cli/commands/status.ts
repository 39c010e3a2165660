import type { Command } from "commander";
import { z } from "zod";
import { ReaderViewSchema, type SystemStatusResult } from "../../api/schemas/index.js";
import type { CliContext } from "../context.js";
import { formatStatus, table } from "../format.js";

export const ReadersResult = z.object({ readers: z.array(ReaderViewSchema) });

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
    .description("PC/SC readers with their card state, ATR and matching device profiles")
    .addHelpText("after", "\nExamples:\n  termhost readers\n  termhost --json readers")
    .action(() =>
      ctx.api(async (c) => {
        const { readers } = await c.status();
        ctx.print({ readers }, () =>
          readers.length === 0
            ? "no readers (is pcscd running and a reader plugged in?)"
            : table(
                ["READER", "PROFILE", "CARD", "CARD PROFILE", "SINCE"],
                readers.map((r) => [r.name, r.readerProfile ?? "-", r.card, r.cardProfile ?? "-", r.since]),
              ),
        );
      }),
    );
}
