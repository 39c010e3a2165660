import type { Command } from "commander";
import type { CliContext } from "../context.js";

export function registerConsole(program: Command, ctx: CliContext): void {
  program
    .command("console")
    .description("a one-time login link for the technician web console (admin.sock)")
    .addHelpText(
      "after",
      '\nThe link holds a single-use ticket good for a minute, in its fragment (never sent to a server\nor logged). From another machine: ssh -L 8092:127.0.0.1:8092 kiosk, then open the link there.\n\nExamples:\n  termhost console\n  chromium "$(termhost --json console | jq -r .url)"',
    )
    .action(() =>
      ctx.admin(async (c) => {
        const r = await c.call("admin.console.ticket", {});
        ctx.print(r, () => `open ${r.url}\n(single use, until ${r.expiresAt})`);
      }),
    );
}
