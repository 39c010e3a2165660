import type { Command } from "commander";
import type { PostageMethods } from "../../api/schemas/index.js";
import type { TermhostClient } from "../../client/client.js";
import { green, red } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { table } from "../format.js";
import { amountOption, newRequestId } from "./options.js";

type Balance = ReturnType<(typeof PostageMethods)["postage.balance"]["result"]["parse"]>;

/** The meters the daemon runs. */
export async function daemonMeters(c: TermhostClient): Promise<string[]> {
  return (await c.call("postage.meters", {})).meters.map((m) => m.meter);
}

async function balances(c: TermhostClient, meter: string | undefined): Promise<Balance[]> {
  if (meter === undefined) return (await c.call("postage.meters", {})).meters;
  return [await c.call("postage.balance", { meter })];
}

const line = (b: Balance): string => (b.connected ? green("connected") : red("not connected"));

export function registerMeter(program: Command, ctx: CliContext): void {
  const meter = program.command("meter").description("postage meters: funds, registers, refills");
  meter
    .command("status")
    .description("each meter's line state, balance, funds reserved for open batches, and unreserved funds")
    .argument("[meter]", "a meter's name (default: every meter the daemon runs)")
    .addHelpText(
      "after",
      "\nWith --json and no name: {meters: [postage.balance result, …]}.\nExit 6 when a meter is not connected.\n\nExamples:\n  termhost meter status\n  termhost --json meter status 'termhost simulated meter'",
    )
    .action((name: string | undefined) =>
      ctx.api(async (c) => {
        const all = await balances(c, name);
        ctx.print(name === undefined ? { meters: all } : all[0], () =>
          all.length === 0
            ? "no meters configured (postage.meters in the daemon's configuration)"
            : table(
                ["METER", "LINE", "BALANCE", "RESERVED", "UNRESERVED"],
                all.map((b) => [
                  b.meter,
                  line(b),
                  `${b.balance} ${b.currency}`,
                  String(b.reserved),
                  String(b.unreserved),
                ]),
              ),
        );
        if (all.some((b) => !b.connected)) throw new CliExit(Exit.DEVICE_UNAVAILABLE);
      }),
    );
  meter
    .command("registers")
    .description("the meter's registers: ascending, descending, control total, pieces, serial")
    .argument("[meter]", "a meter's name (default: every meter the daemon runs)")
    .addHelpText(
      "after",
      "\nascending + descending = control total on a healthy meter; a mismatch is shown in red.\nExit 6 when the registers are not known (meter never connected).\n\nExamples:\n  termhost meter registers",
    )
    .action((name: string | undefined) =>
      ctx.api(async (c) => {
        const all = await balances(c, name);
        ctx.print(name === undefined ? { meters: all } : all[0], () =>
          all
            .map((b) => {
              const r = b.registers;
              if (r === null) return `${b.meter}: registers not read yet (${line(b)})`;
              const sum = r.ascending + r.descending;
              const check = sum === r.controlTotal ? green("ok") : red(`MISMATCH: sum ${sum}`);
              return [
                `${b.meter}  serial ${r.serial}`,
                `  ascending      ${r.ascending}`,
                `  descending     ${r.descending}`,
                `  control total  ${r.controlTotal}  ${check}`,
                `  pieces         ${r.pieceCount}`,
                `  batches        ${r.batchCount} (${r.batchValue})`,
              ].join("\n");
            })
            .join("\n\n"),
        );
        if (all.some((b) => b.registers === null)) throw new CliExit(Exit.DEVICE_UNAVAILABLE);
      }),
    );
  meter
    .command("refill")
    .description("add funds to a meter with the vendor's authorization")
    .argument("<amount>", "minor units", amountOption)
    .requiredOption("-m, --meter <name>", "the meter")
    .requiredOption("--next-inspection <date>", "the next inspection date the vendor set, YYYY-MM-DD")
    .option(
      "--authorization <hex>",
      "the vendor's 16-byte authorization (default: the daemon's configured vendor key signs it)",
    )
    .option("--request-id <id>", "the request id; the same id again never refills twice (default: generated)")
    .addHelpText(
      "after",
      "\nExit 0 applied, 13 pending (the meter settles it at its next connection), 8 refused.\n\nExamples:\n  termhost meter refill 10000 --meter 'termhost simulated meter' --next-inspection 2030-01-31",
    )
    .action(
      (
        amount: number,
        o: { meter: string; nextInspection: string; authorization?: string; requestId?: string },
      ) =>
        ctx.api(async (c) => {
          const requestId = o.requestId ?? newRequestId("refill");
          if (o.requestId === undefined) ctx.note(`request id ${requestId}`);
          const r = await c.call("postage.refill", {
            meter: o.meter,
            amount,
            nextInspection: o.nextInspection,
            requestId,
            ...(o.authorization === undefined ? {} : { authorization: o.authorization }),
          });
          ctx.print(
            r,
            () =>
              `refill ${r.txnId} of ${r.amount} on ${r.meter}: ${r.state}${r.controlTotalAfter === null ? "" : `, control total ${r.controlTotalAfter}`}\n  request id ${r.requestId}`,
          );
          if (r.state !== "applied") throw new CliExit(Exit.PENDING);
        }),
    );
}
