import type { Command } from "commander";
import { ScaleEventData } from "../../api/schemas/index.js";
import { isTermhostError, TermhostError } from "../../errors/errors.js";
import { yellow } from "../colour.js";
import type { CliContext } from "../context.js";
import { intOption } from "./options.js";

/** A daemon built before scale support answers METHOD_NOT_FOUND: a missing feature, not a usage error. */
export function scaleUnsupported(e: unknown): unknown {
  if (!isTermhostError(e, "METHOD_NOT_FOUND")) return e;
  return new TermhostError("SCALE_UNSUPPORTED", "no scale support in this daemon", {
    hint: "this termhostd offers no scale methods; update the daemon, or weigh on the scale's own display",
  });
}

export function registerScale(program: Command, ctx: CliContext): void {
  const scale = program.command("scale").description("the USB HID postal scale");
  scale
    .command("read")
    .description("a stable weight now; with --watch, every live weight until Ctrl-C")
    .option("-w, --watch", "follow the live weight (the `scale` event topic)")
    .option("--wait <ms>", "how long to wait for a stable weight", intOption, 3000)
    .option("--count <n>", "with --watch: end after this many readings", intOption)
    .option("--for <ms>", "with --watch: end after this many milliseconds", intOption)
    .addHelpText(
      "after",
      "\nWith --watch and --json, one scale event per line.\nExit 6 scale offline, 12 no scale support in the daemon, 1 unstable, overweight or under zero.\n\nExamples:\n  termhost scale read\n  termhost --json scale read --watch --count 5",
    )
    .action((o: { watch?: boolean; wait: number; count?: number; for?: number }) =>
      ctx.api(async (c) => {
        if (o.watch !== true) {
          const w = await c
            .call("scale.read", { timeoutMs: o.wait }, o.wait + ctx.timeoutMs)
            .catch((e: unknown) => {
              throw scaleUnsupported(e);
            });
          ctx.print(w, () => `${w.text}${w.grams === undefined ? "" : `  (${w.grams} g)`}  ${w.status}`);
          return;
        }
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once("SIGINT", onSignal);
        const timer = o.for === undefined ? undefined : setTimeout(onSignal, o.for);
        const stream = c.events(["scale"], { signal: stop.signal });
        try {
          const now = await c.call("scale.status", {}).catch((e: unknown) => {
            throw scaleUnsupported(e);
          });
          if (!ctx.json)
            process.stdout.write(`${now.online ? (now.live?.text ?? "online") : yellow("offline")}\n`);
          process.stderr.write("waiting for weights (Ctrl-C to end)\n");
          let n = 0;
          for await (const item of stream) {
            if (item.type !== "event") continue;
            const d = ScaleEventData.parse(item.data);
            const text =
              d.kind === "weight" ? `${d.text}  ${d.status}${d.trusted ? "" : " (not trusted yet)"}` : d.kind;
            process.stdout.write(ctx.json ? `${JSON.stringify(d)}\n` : `${text}\n`);
            if (o.count !== undefined && ++n >= o.count) break;
          }
        } finally {
          clearTimeout(timer);
          process.off("SIGINT", onSignal);
          await stream.return();
        }
      }, true),
    );
}
