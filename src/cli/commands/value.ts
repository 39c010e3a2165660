import type { Command } from "commander";
import type { ValueTransaction } from "../../api/schemas/index.js";
import { green, red, yellow } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { isValueCard, pickReader } from "../readers.js";
import { amountOption, newRequestId } from "./options.js";

export function stateColour(state: string): (s: string) => string {
  if (state === "applied" || state === "completed") return green;
  if (state === "failed" || state === "unresolved") return red;
  return yellow;
}

export function formatTransaction(tx: ValueTransaction & { counter?: number | null }): string {
  const lines = [
    `${tx.kind} ${tx.txId}  ${stateColour(tx.state)(tx.state)} (${tx.phase})`,
    `  request id  ${tx.requestId}`,
    `  reader      ${tx.reader}`,
    `  amount      ${tx.amount} ${tx.currency}`,
    `  card        ${tx.cardId ?? "-"}${tx.counter == null ? "" : `, counter ${tx.counter}`}`,
    `  balance     ${tx.balanceAfter ?? "-"}`,
  ];
  if (tx.restored !== null) lines.push(`  restored    ${tx.restored}`);
  if (tx.error !== null) lines.push(`  error       ${tx.error.code}: ${tx.error.message}`);
  if (tx.reversal !== null) {
    const told = tx.reversal.reported
      ? "reported"
      : tx.reversalRefused
        ? "refused by the authorizer"
        : "not reported yet";
    lines.push(`  reversal    authorization ${tx.reversal.authorizationId}, ${told}`);
  }
  if (tx.unresolved !== null) lines.push(`  unresolved  ${tx.unresolved.reason}: ${tx.unresolved.message}`);
  lines.push(`  created     ${tx.createdAt}`, `  updated     ${tx.updatedAt}`);
  return lines.join("\n");
}

/** applied 0, failed 1, unresolved 15, still open (pending, restoring) 13: a script can tell "settled" from "not yet". */
export function exitForTransaction(tx: { state: string }): void {
  if (tx.state === "failed") throw new CliExit(Exit.FAILED);
  if (tx.state === "unresolved") throw new CliExit(Exit.UNRESOLVED);
  if (tx.state !== "applied") throw new CliExit(Exit.PENDING);
}

interface ValueOptions {
  reader?: string;
  currency: string;
  requestId?: string;
}

export function registerValue(program: Command, ctx: CliContext): void {
  const value = program
    .command("value")
    .description("load value onto a value card (purse or DESFire), debit it, or look a transaction up");
  for (const [name, method, what] of [
    [
      "load",
      "value.increase",
      "load value onto the card (authenticated, authorized, journaled, exactly once)",
    ],
    ["debit", "value.debit", "take value off the card (a purchase), exactly once"],
  ] as const) {
    value
      .command(name)
      .description(what)
      .argument("<amount>", "minor units (1250 for 12.50)", amountOption)
      .option(
        "-r, --reader <name|index>",
        "the reader (default: the only one holding a value card: purse or DESFire)",
      )
      .option("-c, --currency <code>", "ISO 4217 code", "EUR")
      .option(
        "--request-id <id>",
        "the request id; the same id again returns the same transaction (default: generated)",
      )
      .addHelpText(
        "after",
        `\nExit 0 applied, 1 failed, 13 waiting for restore.\n\nExamples:\n  termhost value ${name} 1250\n  termhost --json value ${name} 500 --reader 0 --request-id shift-42-7`,
      )
      .action((amount: number, o: ValueOptions) =>
        ctx.api(async (c) => {
          const reader = await pickReader(c, o.reader, isValueCard);
          const requestId = o.requestId ?? newRequestId(name);
          if (o.requestId === undefined) ctx.note(`request id ${requestId}`);
          const tx = await c.call(method, { reader, amount, currency: o.currency, requestId });
          ctx.print(tx, () => formatTransaction(tx));
          exitForTransaction(tx);
        }),
      );
  }
  value
    .command("status")
    .description("a value transaction by its transaction id (vtx-…) or request id")
    .argument("<id>", "transaction id or request id")
    .addHelpText(
      "after",
      "\nExit 0 applied, 1 failed, 13 still open, 7 unknown.\n\nExamples:\n  termhost value status vtx-lx2k3-9f8e7d6c5b\n  termhost --json value status shift-42-7",
    )
    .action((id: string) =>
      ctx.api(async (c) => {
        const tx = await c.call("value.status", id.startsWith("vtx-") ? { txId: id } : { requestId: id });
        ctx.print(tx, () => formatTransaction(tx));
        exitForTransaction(tx);
      }),
    );
}
