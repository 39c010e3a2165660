import type { Command } from "commander";
import type { z } from "zod";
import { ApiMethods } from "../../api/schemas/index.js";
import { isTermhostError, TermhostError } from "../../errors/errors.js";
import { RpcClient } from "../../jsonrpc/client.js";
import type { CliContext } from "../context.js";
import { intOption } from "./options.js";

/**
 * Scale methods are looked up by name at run time: a daemon (or this build) without them answers
 * METHOD_NOT_FOUND, which is a missing feature, not a usage error.
 */
const spec = (ApiMethods as Record<string, { result: z.ZodType } | undefined>)["scale.read"];

function unsupported(): TermhostError {
  return new TermhostError("SCALE_UNSUPPORTED", "no scale support in this daemon", {
    hint: "this termhostd offers no scale.read method; update the daemon, or weigh on the scale's own display",
  });
}

function formatWeight(r: unknown): string {
  const w = r as { weight?: unknown; unit?: unknown; stable?: unknown; status?: unknown };
  if (w.weight === undefined) return JSON.stringify(r);
  return `${String(w.weight)} ${String(w.unit ?? "")}${w.stable === false ? " (unstable)" : ""}`.trim();
}

export function registerScale(program: Command, ctx: CliContext): void {
  const scale = program.command("scale").description("the USB HID postal scale");
  scale
    .command("read")
    .description("the scale's weight now; with --watch, every change until Ctrl-C")
    .option("-w, --watch", "keep reading")
    .option("--interval <ms>", "with --watch: how often to read", intOption, 500)
    .option("--count <n>", "with --watch: end after this many readings", intOption)
    .addHelpText(
      "after",
      "\nExit 12 when the daemon has no scale support, 6 when the scale is offline.\n\nExamples:\n  termhost scale read\n  termhost --json scale read --watch --count 5",
    )
    .action(async (o: { watch?: boolean; interval: number; count?: number }) => {
      const rpc = await RpcClient.connect(ctx.opts.socket, { timeoutMs: ctx.timeoutMs });
      const stop = new AbortController();
      const onSignal = (): void => stop.abort();
      process.once("SIGINT", onSignal);
      try {
        let n = 0;
        let last = "";
        for (;;) {
          let raw: unknown;
          try {
            raw = await rpc.call("scale.read", {});
          } catch (e) {
            if (isTermhostError(e, "METHOD_NOT_FOUND")) throw unsupported();
            throw e;
          }
          const result = spec === undefined ? raw : spec.result.parse(raw);
          const text = ctx.json ? JSON.stringify(result) : formatWeight(result);
          if (!o.watch || text !== last) {
            process.stdout.write(`${text}\n`);
            n++;
          }
          last = text;
          if (!o.watch || stop.signal.aborted || (o.count !== undefined && n >= o.count)) break;
          await new Promise((r) => setTimeout(r, o.interval));
          if (stop.signal.aborted) break;
        }
      } finally {
        process.off("SIGINT", onSignal);
        rpc.close();
      }
    });
}
