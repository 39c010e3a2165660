import type { Command } from "commander";
import type { BatchResult } from "../../api/schemas/index.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { Progress } from "../progress.js";
import { amountOption, intOption, newRequestId } from "./options.js";
import { stateColour } from "./value.js";

interface BatchOptions {
  meter: string;
  pieces: number;
  amount: number;
  currency: string;
  class: number;
  origin: string;
  onInsufficient: "reject" | "partial" | "wait";
  requestId?: string;
  waitTimeout?: number;
}

const FINAL = new Set(["completed", "cancelled", "interrupted", "failed"]);

function formatBatch(b: BatchResult): string {
  const lines = [
    `batch ${b.batchId} on ${b.meter}: ${stateColour(b.state)(b.state)}`,
    `  request id  ${b.requestId}`,
    `  pieces      ${b.printedPieces} printed of ${b.acceptedPieces} accepted (${b.requestedPieces} requested, ${b.skippedPieces} skipped)`,
    `  funds       reserved ${b.reserved}, consumed ${b.consumed}, released ${b.released} ${b.currency}`,
  ];
  if (b.reason !== null) lines.push(`  reason      ${b.reason}`);
  for (const i of b.indicia)
    lines.push(`  #${i.pieceIndex} ${i.amount} seq ${i.sequence} ${i.date} ${i.mac}`);
  return lines.join("\n");
}

export function registerPostage(program: Command, ctx: CliContext): void {
  const postage = program.command("postage").description("print postage indicia on a meter");
  postage
    .command("batch")
    .description("print a batch of identical pieces from reserved funds, with a progress bar")
    .requiredOption("-m, --meter <name>", "the meter")
    .requiredOption("-n, --pieces <n>", "how many pieces", intOption)
    .requiredOption("-a, --amount <minor>", "postage per piece in minor units", amountOption)
    .option("-c, --currency <code>", "ISO 4217 code of the meter's funds", "EUR")
    .option("--class <code>", "mail class code of the tariff", intOption, 1)
    .option("--origin <postcode>", "origin postal code printed in the indicium", "00000")
    .option(
      "--on-insufficient <procedure>",
      "reject, partial (print what fits) or wait (for a refill)",
      "reject",
    )
    .option("--wait-timeout <ms>", "with --on-insufficient wait: how long to wait for funds", intOption)
    .option(
      "--request-id <id>",
      "the request id; the same id again returns the same batch (default: generated)",
    )
    .addHelpText(
      "after",
      "\nProgress goes to stderr; the final batch to stdout. Exit 0 completed, 1 failed, cancelled or\ninterrupted, 8 insufficient funds, 13 still running when the wait ended.\n\nExamples:\n  termhost postage batch --meter 'termhost simulated meter' --pieces 10 --amount 85\n  termhost --json postage batch -m 'termhost simulated meter' -n 3 -a 100 --on-insufficient partial",
    )
    .action((o: BatchOptions) =>
      ctx.api(async (c) => {
        const requestId = o.requestId ?? newRequestId("batch");
        if (o.requestId === undefined) ctx.note(`request id ${requestId}`);
        const piece = { amount: o.amount, currency: o.currency, class: o.class, origin: o.origin };
        const progress = ctx.json ? undefined : new Progress();
        const stream = c.events(["postage"]);
        let batchId: string | undefined;
        const show = (b: {
          printedPieces: number;
          acceptedPieces: number;
          consumed: number;
          currency: string;
        }): void => progress?.update(b.printedPieces, b.acceptedPieces, `${b.consumed} ${b.currency}`);
        // Progress arrives on the postage topic; the final answer comes from postage.batch.status.
        const watching = (async () => {
          for await (const item of stream) {
            if (item.type !== "event") continue;
            const d = item.data as { kind?: string; batchId?: string } & Parameters<typeof show>[0];
            if (d.kind === "batch" && d.batchId === batchId) show(d);
          }
        })();
        try {
          let b = await c.call("postage.batch.start", {
            meter: o.meter,
            pieces: Array.from({ length: o.pieces }, () => piece),
            requestId,
            onInsufficient: o.onInsufficient,
            ...(o.waitTimeout === undefined ? {} : { waitTimeoutMs: o.waitTimeout }),
          });
          batchId = b.batchId;
          show(b);
          const deadline = Date.now() + 600_000;
          while (!FINAL.has(b.state) && Date.now() < deadline) {
            b = await c.call("postage.batch.status", { batchId, waitMs: 60_000 }, 60_000 + ctx.timeoutMs);
            show(b);
          }
          progress?.end();
          ctx.print(b, () => formatBatch(b));
          if (!FINAL.has(b.state)) throw new CliExit(Exit.PENDING);
          if (b.state !== "completed") throw new CliExit(Exit.FAILED);
        } finally {
          await stream.return();
          await watching;
        }
      }),
    );
}
