#!/usr/bin/env node
/** termhostd: the kiosk/POS host daemon. */
import { Command } from "commander";
import { isTermhostError } from "../errors/errors.js";
import { createLogger, LogLevel } from "../util/log.js";
import { productVersion } from "../util/version.js";
import { type Config, defaultConfig, loadConfigFile } from "./config.js";
import { Daemon } from "./daemon.js";

const EXIT_CONFIG = 2;
const EXIT_START = 1;

const program = new Command("termhostd")
  .description("termhost daemon: owns the kiosk's card readers, postage meters and scales")
  .version(productVersion())
  .option("-c, --config <file>", "configuration file (JSON); the embedded default when absent")
  .option(
    "--log-level <level>",
    "override the configured log level (fatal|error|warn|info|debug|trace|silent)",
  )
  .option("--print-config", "print the effective configuration and exit")
  .parse(process.argv);

const opts = program.opts<{ config?: string; logLevel?: string; printConfig?: boolean }>();

let config: Config;
try {
  config = opts.config === undefined ? defaultConfig() : loadConfigFile(opts.config);
  if (opts.logLevel !== undefined) {
    const level = LogLevel.safeParse(opts.logLevel);
    if (!level.success) throw new Error(`--log-level: expected one of ${LogLevel.options.join(", ")}`);
    config.logLevel = level.data;
  }
} catch (e) {
  process.stderr.write(`termhostd: ${isTermhostError(e) ? e.describe() : (e as Error).message}\n`);
  process.exit(EXIT_CONFIG);
}

if (opts.printConfig === true) {
  process.stdout.write(`${JSON.stringify(config, null, 2)}\n`);
  process.exit(0);
}

const log = createLogger("termhostd", config.logLevel);
const daemon = new Daemon(config, log);
let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "signal received");
  void daemon.stop().then(() => {
    log.flush();
    process.exit(0);
  });
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

daemon.start().catch((e: unknown) => {
  log.fatal({ err: e }, "start-up failed");
  process.stderr.write(`termhostd: ${isTermhostError(e) ? e.describe() : (e as Error).message}\n`);
  log.flush();
  process.exit(isTermhostError(e, "PROFILE_INVALID") ? EXIT_CONFIG : EXIT_START);
});
