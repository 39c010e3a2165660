#!/usr/bin/env node
/**
 * termhost-sim: the simulated kiosk hardware. `serve` runs the simulators from a scenario;
 * `insert`, `remove` and `status` drive a running one through its control socket; `kiosk` starts a
 * whole simulated kiosk (private pcscd, simulators) with the daemon on it.
 */
import { Command } from "commander";
import { isTermhostError } from "../src/errors/errors.js";
import { RpcClient } from "../src/jsonrpc/client.js";
import { createLogger, LogLevel } from "../src/util/log.js";
import { loadIssuerState } from "./issuer/issuer-config.js";
import { startIssuerHost } from "./issuer/issuer-host.js";
import { defaultSimControl, runKiosk } from "./kiosk.js";
import { meterControlServer } from "./meter/control.js";
import { startMeterSimulator } from "./meter/meter-simulator.js";
import { addRunCommands } from "./run/cli.js";
import { addScaleCommands } from "./scale/cli.js";
import { loadScenario } from "./scenario.js";
import { SimServer } from "./sim-server.js";

const program = new Command("termhost-sim").description("simulated kiosk hardware for termhost");

program
  .command("serve")
  .description("run the simulators of a scenario and serve their control socket")
  .requiredOption("--scenario <file>", "scenario file (JSON)")
  .requiredOption("--control <path>", "control socket path")
  .option("--log-level <level>", "fatal|error|warn|info|debug|trace", "info")
  .action(async (opts: { scenario: string; control: string; logLevel: string }) => {
    const log = createLogger("termhost-sim", LogLevel.parse(opts.logLevel));
    const scenario = loadScenario(opts.scenario);
    const server = new SimServer(scenario, log);
    await server.rpc.listenPath(opts.control, 0o600);
    await server.start(scenario);
    const stop = (): void => {
      server.stop();
      void server.rpc.close().then(() => process.exit(0));
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    process.stdout.write(`ready ${opts.control}\n`);
  });

function controlCommand(name: string, method: string, description: string, withSlot: boolean): void {
  const cmd = program
    .command(withSlot ? `${name} <slot>` : name)
    .description(description)
    .requiredOption("--control <path>", "the simulator's control socket", defaultSimControl())
    .action(async (...args: unknown[]) => {
      const slot = withSlot ? Number(args[0]) : undefined;
      const opts = (withSlot ? args[1] : args[0]) as { control: string };
      const client = await RpcClient.connect(opts.control);
      try {
        const result = await client.call(method, slot === undefined ? {} : { slot });
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } finally {
        client.close();
      }
    });
  void cmd;
}

controlCommand("insert", "card.insert", "insert the card of a slot", true);
controlCommand("remove", "card.remove", "pull the card of a slot", true);
controlCommand("status", "sim.status", "show slots and cards", false);

program
  .command("kiosk")
  .description("start a simulated kiosk: private pcscd, card simulators and (with --daemon) termhostd")
  .option("--daemon", "also start termhostd on the simulated kiosk", false)
  .option("--no-netns", "do not use a quickack network namespace (slower APDUs)")
  .option("--socket <path>", "the daemon's API socket")
  .option("--log-level <level>", "daemon log level", "info")
  .action(async (opts: { daemon: boolean; netns: boolean; socket?: string; logLevel: string }) => {
    await runKiosk(opts);
  });

program
  .command("meter")
  .description("run a postage meter simulator on a serial port (the device end of a pty pair)")
  .requiredOption("--port <path>", "serial device to open")
  .requiredOption("--state <file>", "meter state file (JSON)")
  .option("--baud <rate>", "baud rate the output is paced to", "9600")
  .option("--control <path>", "control socket (cut, restore, corrupt… see docs/hil.md)")
  .action(async (opts: { port: string; state: string; baud: string; control?: string }) => {
    const log = createLogger("termhost-sim-meter", "info");
    const sim = await startMeterSimulator({
      port: opts.port,
      stateFile: opts.state,
      baudRate: Number(opts.baud),
      log,
    });
    const rpc = opts.control === undefined ? undefined : meterControlServer(sim, log);
    if (rpc !== undefined && opts.control !== undefined) await rpc.listenPath(opts.control, 0o600);
    const stop = (): void => void Promise.all([sim.close(), rpc?.close()]).then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    process.stdout.write(`ready ${opts.port}\n`);
  });

program
  .command("issuer")
  .description("run the issuer host simulator: authorizes loads over HTTP on loopback, keeps a ledger")
  .requiredOption(
    "--state <file>",
    "issuer state file (JSON): master key, terminals and their tokens, ledger",
  )
  .option("--port <port>", "TCP port (0 picks a free one)", "0")
  .option("--host <address>", "address to listen on", "127.0.0.1")
  .action(async (opts: { state: string; port: string; host: string }) => {
    const host = await startIssuerHost({
      ...loadIssuerState(opts.state),
      host: opts.host,
      port: Number(opts.port),
    });
    const stop = (): void => void host.stop().then(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    process.stdout.write(`ready ${host.url}\n`);
  });

addScaleCommands(program);
addRunCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`termhost-sim: ${isTermhostError(e) ? e.describe() : (e as Error).message}\n`);
  process.exit(1);
});
