import type { Command } from "commander";
import { green, red } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { defaultProfilesDir } from "../profiles.js";
import { checkProfiles } from "../profiles-check.js";

export function registerProfiles(program: Command, ctx: CliContext): void {
  const profiles = program
    .command("profiles")
    .description("device profiles: cards, readers, meters, scales, rate tables");
  profiles
    .command("check")
    .description(
      "load and validate every device profile, naming the file and the field of each problem; no daemon needed",
    )
    .argument("[dir]", "the device-profiles folder", defaultProfilesDir())
    .addHelpText(
      "after",
      "\nExit 0 when the set loads as the daemon would load it, 11 otherwise.\n\nExamples:\n  termhost profiles check\n  termhost --json profiles check /etc/termhost/device-profiles",
    )
    .action(async (dir: string) => {
      const r = await checkProfiles(dir);
      ctx.print(r, () => {
        const counts = Object.entries(r.files)
          .map(([k, n]) => `${n} ${k}`)
          .join(", ");
        if (r.problems.length === 0) return `${r.dir}: ${green("ok")} (${counts})`;
        return [
          `${r.dir}: ${red(`${r.problems.length} problem(s)`)} (${counts})`,
          ...r.problems.map((p) => `  ${p.file}: ${p.problem}`),
        ].join("\n");
      });
      if (r.problems.length > 0) throw new CliExit(Exit.INVALID_DATA);
    });
}
