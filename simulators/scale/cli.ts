import type { Command } from "commander";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { createLogger } from "../../src/util/log.js";
import { defaultScaleControl, scaleControlServer } from "./control.js";
import { SimScale } from "./sim-scale.js";
import { ScaleSocketServer } from "./socket-server.js";

async function control(path: string, method: string, params: Record<string, unknown> = {}): Promise<void> {
  const client = await RpcClient.connect(path);
  try {
    process.stdout.write(`${JSON.stringify(await client.call(method, params), null, 2)}\n`);
  } finally {
    client.close();
  }
}

/** `termhost-sim scale` (the simulated scale process) and the `scale-*` commands that drive it. */
export function addScaleCommands(program: Command): void {
  program
    .command("scale")
    .description("run a simulated USB postal scale on a Unix socket (termhostd: scale.transport kind socket)")
    .requiredOption("--socket <path>", "the scale socket termhostd connects to")
    .option("--control <path>", "control socket (scale-set, scale-unplug…)", defaultScaleControl())
    .option("--grams <n>", "load on the scale at start", "0")
    .option("--capacity <grams>", "heaviest weighable load", "10000")
    .option("--interval-ms <ms>", "time between reports", "100")
    .action(
      async (opts: {
        socket: string;
        control: string;
        grams: string;
        capacity: string;
        intervalMs: string;
      }) => {
        const log = createLogger("termhost-sim-scale", "info");
        const sim = new SimScale({
          capacityGrams: Number(opts.capacity),
          reportIntervalMs: Number(opts.intervalMs),
        });
        sim.setWeight(Number(opts.grams));
        const server = new ScaleSocketServer(sim, opts.socket);
        await server.listen();
        const rpc = scaleControlServer(server, log);
        await rpc.listenPath(opts.control, 0o600);
        const stop = (): void => void Promise.all([server.close(), rpc.close()]).then(() => process.exit(0));
        process.on("SIGTERM", stop);
        process.on("SIGINT", stop);
        process.stdout.write(`ready ${opts.socket}\n`);
      },
    );
  const withControl = (name: string, description: string): Command =>
    program
      .command(name)
      .description(description)
      .option("--control <path>", "the scale simulator's control socket", defaultScaleControl());
  withControl("scale-set <grams>", "put a load on the simulated scale")
    .option("--settle-ms <ms>", "time in motion before it reads stable", "500")
    .action((grams: string, opts: { control: string; settleMs: string }) =>
      control(opts.control, "scale.set", { grams: Number(grams), settleMs: Number(opts.settleMs) }),
    );
  withControl("scale-wobble <on|off>", "rock the piece on the simulated scale (in motion until off)").action(
    (on: string, opts: { control: string }) => control(opts.control, "scale.wobble", { on: on === "on" }),
  );
  withControl("scale-unplug", "pull the simulated scale's cable").action((opts: { control: string }) =>
    control(opts.control, "scale.unplug"),
  );
  withControl("scale-replug", "plug the simulated scale back in").action((opts: { control: string }) =>
    control(opts.control, "scale.replug"),
  );
  withControl("scale-status", "the simulated scale's state").action((opts: { control: string }) =>
    control(opts.control, "scale.status"),
  );
}
