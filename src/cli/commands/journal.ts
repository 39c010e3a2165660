import type { Command } from "commander";
import { green, red, yellow } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { table } from "../format.js";
import {
  compactJournal,
  type InspectReport,
  inspectJournal,
  type JournalKind,
  resolveJournal,
  salvage,
  type VerifyReport,
  verifyJournal,
} from "../journal-tools.js";

interface JournalOptions {
  config?: string;
  stateDir?: string;
  kind?: JournalKind;
}

function formatVerify(r: VerifyReport): string {
  const verdict =
    r.onOpen === "clean"
      ? green("intact")
      : r.onOpen === "drops-torn-tail"
        ? yellow(
            `torn tail at ${r.damage?.at} (${r.damage?.reason}): the next start drops ${r.fileBytes - r.validBytes} bytes, never acknowledged`,
          )
        : red(
            `damaged at ${r.damage?.at} (${r.damage?.reason}) before the tail: the daemon will not start on it`,
          );
  const lines = [
    `${r.path} (${r.kind})`,
    `  ${verdict}`,
    `  ${r.records} records, last seq ${r.lastSeq}${r.snapshotSeq === null ? "" : `, snapshot at seq ${r.snapshotSeq}`}, ${r.validBytes} of ${r.fileBytes} bytes`,
  ];
  if (r.salvage !== null)
    lines.push(`  way out: ${r.salvage} (keeps the intact prefix and the damaged file)`);
  return lines.join("\n");
}

function formatInspect(r: InspectReport): string {
  const lines = [
    formatVerify(r),
    "",
    table(
      ["RECORD TYPE", "COUNT"],
      Object.entries(r.recordTypes).map(([t, n]) => [t, String(n)]),
    ),
  ];
  const s = r.summary;
  lines.push("");
  if ("transactions" in s) {
    lines.push(
      `${s.transactions} transactions: ${
        Object.entries(s.byPhase)
          .map(([p, n]) => `${n} ${p}`)
          .join(", ") || "none"
      }; ${s.reversalsNotReported} reversals not reported`,
    );
    if (s.open.length > 0) {
      lines.push(
        table(
          ["OPEN TRANSACTION", "PHASE", "KIND", "AMOUNT", "CARD", "COUNTER"],
          s.open.map((t) => [
            t.txId,
            t.phase,
            t.kind,
            String(t.amount),
            t.cardId ?? "-",
            String(t.counter ?? "-"),
          ]),
        ),
      );
    }
  } else {
    lines.push(
      table(
        ["METER", "SERIAL", "BALANCE", "RESERVED", "PIECES"],
        s.meters.map((m) => [m.meter, m.serial, String(m.balance), String(m.reserved), String(m.pieceCount)]),
      ),
      `batches: ${
        Object.entries(s.batchesByOutcome)
          .map(([o, n]) => `${n} ${o}`)
          .join(", ") || "none"
      } (refills are value transactions: see the value journal)`,
    );
  }
  return lines.join("\n");
}

function exitForVerify(r: VerifyReport): void {
  if (r.onOpen === "refuses-to-start") throw new CliExit(Exit.JOURNAL_DAMAGED);
}

export function registerJournal(program: Command, ctx: CliContext): void {
  const journal = program
    .command("journal")
    .description("check, read, compact or salvage a journal file, offline (the daemon must be stopped)");
  const target = (c: Command): Command =>
    c
      .argument("<journal>", "`value`, `postage` (the daemon's journals) or a journal file's path")
      .option("--config <file>", "the daemon's configuration, for its state directory and journal paths")
      .option("--state-dir <dir>", "the daemon's state directory (default: the configuration's)")
      .option("--kind <kind>", "value or postage, for a file whose name does not say");
  const exitCodes =
    "\nExit 9 while the daemon holds the journal (stop it first), 7 no such file, 10 damage before the tail.";

  target(journal.command("verify"))
    .description("replay the journal read-only and report what the daemon's next start would do with it")
    .addHelpText(
      "after",
      `\nNothing is written: a torn tail is reported, left for the daemon to drop.${exitCodes}\n\nExamples:\n  termhost journal verify value --state-dir /var/lib/termhost\n  termhost --json journal verify ./postage.journal`,
    )
    .action(async (which: string, o: JournalOptions) => {
      const r = await verifyJournal(resolveJournal(which, o));
      ctx.print(r, () => formatVerify(r));
      exitForVerify(r);
    });

  target(journal.command("inspect"))
    .description("records by type and the state they add up to: open transactions, meters, reservations")
    .addHelpText(
      "after",
      `${exitCodes}\n\nExamples:\n  termhost journal inspect value\n  termhost --json journal inspect postage`,
    )
    .action(async (which: string, o: JournalOptions) => {
      const r = await inspectJournal(resolveJournal(which, o));
      ctx.print(r, () => formatInspect(r));
      exitForVerify(r);
    });

  target(journal.command("compact"))
    .description("rewrite the journal as a snapshot of its live state (recovery first, as at start-up)")
    .addHelpText("after", `${exitCodes}\n\nExamples:\n  termhost journal compact value`)
    .action(async (which: string, o: JournalOptions) => {
      const r = await compactJournal(resolveJournal(which, o));
      ctx.print(
        r,
        () =>
          `${r.path}: ${r.compaction.bytesBefore} → ${r.compaction.bytesAfter} bytes, snapshot at seq ${r.compaction.snapshotSeq}${r.recovery.droppedTail === null ? "" : `; dropped a torn tail of ${r.recovery.droppedTail.bytes} bytes (saved to ${r.recovery.droppedTail.savedTo})`}`,
      );
    });

  target(journal.command("salvage"))
    .description(
      "after damage before the tail: keep the intact prefix as the journal, the damaged file aside",
    )
    .addHelpText(
      "after",
      `\nNothing is deleted; records after the damage stay in the damaged copy for review.${exitCodes}\n\nExamples:\n  termhost journal salvage /var/lib/termhost/value.journal`,
    )
    .action(async (which: string, o: JournalOptions) => {
      const r = await salvage(resolveJournal(which, o));
      ctx.print(r, () =>
        r.changed
          ? `${r.path}: kept ${r.keptBytes} bytes (up to seq ${r.keptLastSeq}), ${r.droppedBytes} bytes only in ${r.damagedCopy}${r.laterFrameAt === null ? "" : `; intact records from offset ${r.laterFrameAt} there need review`}`
          : `${r.path}: intact, nothing changed`,
      );
    });
}
