import { Command } from "commander";
import { defaultApiSocket } from "../api/paths.js";
import { productVersion } from "../util/version.js";
import { registerApdu } from "./commands/apdu.js";
import { registerAtr } from "./commands/atr.js";
import { registerCard } from "./commands/card.js";
import { registerConsole } from "./commands/console.js";
import { registerFleet } from "./commands/fleet.js";
import { registerJournal } from "./commands/journal.js";
import { registerMeter } from "./commands/meter.js";
import { registerMonitor } from "./commands/monitor.js";
import { registerPostage } from "./commands/postage.js";
import { registerProfiles } from "./commands/profiles.js";
import { registerRestore } from "./commands/restore.js";
import { registerScale } from "./commands/scale.js";
import { registerSelftest } from "./commands/selftest.js";
import { registerStatus } from "./commands/status.js";
import { registerValue } from "./commands/value.js";
import { CliContext } from "./context.js";

/** Commands that work on files alone; every other command talks to the daemon. */
export const OFFLINE_COMMANDS = new Set([
  "atr",
  "journal verify",
  "journal inspect",
  "journal compact",
  "journal salvage",
  "profiles check",
]);

/** The whole command tree, without running it (tests walk it to check every command's help). */
export function buildProgram(): { program: Command; ctx: CliContext } {
  const program = new Command("termhost")
    .description(
      "diagnose and drive a termhost kiosk daemon: readers and cards, value, restore, journals, postage",
    )
    .version(productVersion())
    .option("-s, --socket <path>", "the daemon's API socket (env TERMHOST_SOCKET)", defaultApiSocket())
    .option(
      "--admin-socket <path>",
      "the technician's socket (env TERMHOST_ADMIN_SOCKET; default: admin.sock next to --socket)",
    )
    .option("--json", "print the result as JSON, for scripts", false)
    .option("--timeout <ms>", "how long to wait for the daemon's reply", "10000")
    .addHelpText(
      "after",
      "\nExit codes and every command's manual: docs/cli.md, or `termhost help <command>`.",
    )
    .showHelpAfterError()
    .exitOverride();
  const ctx = new CliContext(program);
  registerStatus(program, ctx);
  registerMonitor(program, ctx);
  registerAtr(program, ctx);
  registerApdu(program, ctx);
  registerCard(program, ctx);
  registerValue(program, ctx);
  registerRestore(program, ctx);
  registerJournal(program, ctx);
  registerMeter(program, ctx);
  registerPostage(program, ctx);
  registerFleet(program, ctx);
  registerScale(program, ctx);
  registerProfiles(program, ctx);
  registerSelftest(program, ctx);
  registerConsole(program, ctx);
  // Subcommands inherit the parse behaviour, so a usage error anywhere exits 2 through main.
  const inherit = (c: Command): void => {
    for (const sub of c.commands) {
      sub.exitOverride().showHelpAfterError();
      inherit(sub);
    }
  };
  inherit(program);
  return { program, ctx };
}

/** Every runnable command as its path ("journal verify"), in help order. */
export function leafCommands(program: Command): string[] {
  const out: string[] = [];
  const walk = (c: Command, prefix: string[]): void => {
    for (const sub of c.commands) {
      const path = [...prefix, sub.name()];
      if (sub.commands.length === 0) out.push(path.join(" "));
      else walk(sub, path);
    }
  };
  walk(program, []);
  return out;
}
