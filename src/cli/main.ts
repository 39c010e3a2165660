#!/usr/bin/env node
/** termhost: the technician's CLI. */
import { Command, CommanderError } from "commander";
import { defaultApiSocket } from "../api/paths.js";
import { TermhostClient } from "../client/client.js";
import { isTermhostError } from "../errors/errors.js";
import { productVersion } from "../util/version.js";
import { Exit, exitCodeFor } from "./exit-codes.js";
import { formatStatus } from "./format.js";

interface GlobalOptions {
  socket: string;
  json: boolean;
  timeout: string;
}

const program = new Command("termhost")
  .description("diagnose and drive a termhost kiosk daemon")
  .version(productVersion())
  .option("-s, --socket <path>", "the daemon's API socket (env TERMHOST_SOCKET)", defaultApiSocket())
  .option("--json", "print the raw result as JSON, for scripts", false)
  .option("--timeout <ms>", "how long to wait for the daemon's reply", "10000")
  .exitOverride()
  .showHelpAfterError();

async function withClient<T>(fn: (c: TermhostClient, opts: GlobalOptions) => Promise<T>): Promise<void> {
  const opts = program.opts<GlobalOptions>();
  const client = await TermhostClient.connect({ socketPath: opts.socket, timeoutMs: Number(opts.timeout) });
  try {
    await fn(client, opts);
  } finally {
    client.close();
  }
}

program
  .command("status")
  .description("daemon version and uptime, PC/SC state, readers and their cards")
  .action(() =>
    withClient(async (c, opts) => {
      const s = await c.status();
      process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
    }),
  );

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof CommanderError) {
    process.exit(e.exitCode === 0 ? Exit.OK : Exit.USAGE);
  }
  if (isTermhostError(e)) {
    process.stderr.write(`termhost: ${e.describe()}\n`);
    process.exit(exitCodeFor(e.code));
  }
  process.stderr.write(`termhost: ${(e as Error).message}\n`);
  process.exit(Exit.FAILED);
});
