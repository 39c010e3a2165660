import type { Command } from "commander";
import type { RestoreEntry } from "../../api/schemas/index.js";
import { TermhostError } from "../../errors/errors.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import { intOption } from "./options.js";
import { exitForTransaction, formatTransaction, stateColour } from "./value.js";

const ref = (id: string): { txId: string } | { requestId: string } =>
  id.startsWith("vtx-") ? { txId: id } : { requestId: id };

function formatList(txs: RestoreEntry[]): string {
  if (txs.length === 0) return "nothing waiting for restore";
  return table(
    ["TRANSACTION", "STATE", "PHASE", "KIND", "AMOUNT", "CARD", "COUNTER", "WHY"],
    txs.map((t) => [
      t.txId,
      stateColour(t.state)(t.state),
      t.phase,
      t.kind,
      `${t.amount} ${t.currency}`,
      t.cardId ?? "-",
      t.counter === null ? "-" : String(t.counter),
      t.error === null ? "-" : t.error.code,
    ]),
  );
}

export function registerRestore(program: Command, ctx: CliContext): void {
  const restore = program
    .command("restore")
    .description("value transactions interrupted after their message may have reached the card (admin.sock)");
  restore
    .command("list")
    .description("open value transactions (pending or restoring), newest first")
    .option("--all", "closed transactions still in the journal too")
    .addHelpText("after", "\nExamples:\n  termhost restore list\n  termhost --json restore list --all")
    .action((o: { all?: boolean }) =>
      ctx.admin(async (c) => {
        const r = await c.call("admin.restore.list", { all: o.all === true });
        ctx.print(r, () => formatList(r.transactions));
      }),
    );
  restore
    .command("show")
    .description("one transaction with the card facts restore decides on")
    .argument("<id>", "transaction id (vtx-…) or request id")
    .addHelpText(
      "after",
      "\nExit 0 applied, 1 failed, 13 still open, 7 unknown.\n\nExamples:\n  termhost restore show vtx-lx2k3-9f8e7d6c5b",
    )
    .action((id: string) =>
      ctx.admin(async (c) => {
        const q = ref(id);
        const all = await c.call("admin.restore.list", { all: true });
        const tx = all.transactions.find((t) =>
          "txId" in q ? t.txId === q.txId : t.requestId === q.requestId,
        );
        if (tx === undefined) {
          throw new TermhostError("TRANSACTION_NOT_FOUND", `no value transaction ${id}`, {
            hint: "`termhost restore list --all` lists the journal's transactions",
          });
        }
        ctx.print(tx, () => formatTransaction(tx));
        exitForTransaction(tx);
      }),
    );
  restore
    .command("retry")
    .description("ask restore to settle a transaction now, from whichever reader holds its card")
    .argument("<id>", "transaction id (vtx-…) or request id")
    .option("--wait <ms>", "wait up to this long for it to close", intOption, 10_000)
    .addHelpText(
      "after",
      "\nRestore also runs by itself on card insertion, reader return, daemon start and a timer;\nthis asks for it now. Exit 0 applied, 1 failed, 13 still open (insert the card), 7 unknown.\n\nExamples:\n  termhost restore retry vtx-lx2k3-9f8e7d6c5b --wait 20000",
    )
    .action((id: string, o: { wait: number }) =>
      ctx.admin(async (c) => {
        const r = await c.call("admin.restore.retry", { ...ref(id), waitMs: o.wait }, o.wait + ctx.timeoutMs);
        ctx.print(r, () => {
          const asked = r.readers.length === 0 ? "no reader holds a card" : `asked ${r.readers.join(", ")}`;
          return `${formatTransaction(r.transaction)}\n  restore     ${asked}`;
        });
        exitForTransaction(r.transaction);
      }),
    );
  restore
    .command("write-off")
    .description(
      "close an open transaction whose card will not come back, as unresolved (no reversal is reported)",
    )
    .argument("<id>", "transaction id (vtx-…) or request id")
    .requiredOption("--note <text>", "why, for the issuer's reconciliation (up to 500 characters)")
    .addHelpText(
      "after",
      '\nThe issuer\'s reconciliation decides whether the value landed: the authorization stays as the\nauthorizer holds it. Exit 15 (unresolved) once written off.\n\nExamples:\n  termhost restore write-off vtx-lx2k3-9f8e7d6c5b --note "card reported lost"',
    )
    .action((id: string, o: { note: string }) =>
      ctx.admin(async (c) => {
        const r = await c.call("admin.restore.write-off", { ...ref(id), note: o.note });
        ctx.print(r, () => formatTransaction(r.transaction));
        exitForTransaction(r.transaction);
      }),
    );
}
