#!/usr/bin/env -S GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072 node --max-semi-space-size=2
/** termhostd: the kiosk/POS host daemon. */
import { Command } from "commander";
import { type ErrorCode, isTermhostError } from "../errors/errors.js";
import { createLogger, LogLevel } from "../util/log.js";
import { redactSecrets } from "../util/secrets.js";
import { productVersion } from "../util/version.js";
import { type Config, defaultConfig, loadConfigFile } from "./config.js";
import { Daemon } from "./daemon.js";
import { productionRefusals } from "./production-config.js";
import { Notifier } from "./systemd/notify.js";
import { ReloadHandler } from "./systemd/reload.js";
import { SHUTDOWN_DEADLINE_MS, ShutdownCoordinator } from "./systemd/shutdown.js";
import { threadsNeeded } from "./threadpool.js";

const EXIT_CONFIG = 2;
const EXIT_START = 1;
/** A configuration error, fixed by editing the file rather than by retrying: exit 2. */
const CONFIG_CODES = new Set<ErrorCode>([
  "CONFIG_INVALID",
  "PROFILE_INVALID",
  "TEST_KEY_IN_PRODUCTION",
  "DEFAULT_TERMINAL_ID_IN_PRODUCTION",
  "SIMULATED_DEVICE_IN_PRODUCTION",
  "CLEARTEXT_ISSUER_IN_PRODUCTION",
]);

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

const refusals = productionRefusals(config);
if (opts.printConfig === true) {
  process.stdout.write(`${JSON.stringify(redactSecrets(config), null, 2)}\n`);
  // A look, not a start: it prints what the daemon would refuse, and still exits 0.
  for (const r of refusals) process.stderr.write(`termhostd: would not start: ${r.describe()}\n`);
  process.exit(0);
}
if (refusals.length > 0) {
  // A JSON line for the log collector, and the plain message with its hint for the operator.
  const log = createLogger("termhostd", config.logLevel);
  for (const r of refusals) {
    log.fatal({ code: r.code, hint: r.hint, ...r.context }, r.message);
    process.stderr.write(`termhostd: ${r.describe()}\n`);
  }
  log.flush();
  process.exit(EXIT_CONFIG);
}

const log = createLogger("termhostd", config.logLevel);
const notifier = Notifier.fromEnv({ onError: (e) => log.warn({ err: e }, "sd_notify failed") });
const daemon = new Daemon(config, log);

// libuv sized its threadpool while Node loaded this file, from the environment the process was
// started with (the service unit sets UV_THREADPOOL_SIZE): setting it here would change nothing.
const pool = daemon.threadpool;
if (pool.shortBy > 0) {
  log.warn(
    { ...pool, needed: threadsNeeded(pool) },
    `libuv's threadpool leaves the journal ${pool.reserve} thread(s) that no device can take; start termhostd with UV_THREADPOOL_SIZE=${threadsNeeded(pool)} or more`,
  );
} else {
  log.info(pool, "threadpool shared between devices and the journal");
}

const shutdown = new ShutdownCoordinator({
  deadlineMs: SHUTDOWN_DEADLINE_MS,
  onStep: (step) => log.info({ step: step.name, outcome: step.outcome, ms: step.elapsedMs }, "shutdown step"),
})
  .add({ name: "refuse new value requests", timeoutMs: 1000, stop: async () => daemon.stopAccepting() })
  .add({ name: "finish in-flight exchanges", stop: ({ signal }) => daemon.drainInFlight(signal) })
  .add({ name: "close journals", reserveMs: 3000, stop: () => daemon.closeStores() })
  .add({ name: "close PC/SC", timeoutMs: 2000, reserveMs: 2000, stop: async () => daemon.closePcsc() })
  .add({ name: "close sockets", timeoutMs: 1000, stop: () => daemon.closeSockets() });

const stop = (signal: string): void => {
  log.info({ signal }, "signal received");
  void (async () => {
    await notifier.stopping("stopping");
    const report = await shutdown.run();
    await notifier.close();
    log.info({ ok: report.ok, ms: report.elapsedMs, overran: report.overran }, "stopped");
    log.flush();
    // A journal that did not close cleanly is recovered at the next start; say so in the exit code.
    const journals = report.steps.find((s) => s.name === "close journals");
    process.exit(journals?.outcome === "done" ? 0 : 1);
  })();
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

new ReloadHandler({
  notifier,
  reload: async () => {
    const fresh = opts.config === undefined ? defaultConfig() : loadConfigFile(opts.config);
    const level = opts.logLevel ?? fresh.logLevel;
    log.level = level;
    return `${await daemon.reloadProfiles()}; log level ${level}`;
  },
  onResult: (r) => log.info(r, "reload"),
}).install();

void (async () => {
  try {
    await notifier.status("recovering journals");
    await daemon.start();
    await notifier.ready("serving");
    notifier.startWatchdog();
  } catch (e) {
    log.fatal({ err: e }, "start-up failed");
    process.stderr.write(`termhostd: ${isTermhostError(e) ? e.describe() : (e as Error).message}\n`);
    log.flush();
    process.exit(isTermhostError(e) && CONFIG_CODES.has(e.code) ? EXIT_CONFIG : EXIT_START);
  }
})();
