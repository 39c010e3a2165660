#!/usr/bin/env node
/** termhost: the technician's CLI. */
import { CommanderError } from "commander";
import { isTermhostError } from "../errors/errors.js";
import { CliExit } from "./context.js";
import { Exit, exitCodeFor } from "./exit-codes.js";
import { buildProgram } from "./program.js";

const { program, ctx } = buildProgram();

function fail(
  code: number,
  e: { code?: string | undefined; message: string; hint?: string | undefined; describe?: () => string },
): never {
  if (ctx.json) {
    process.stdout.write(
      `${JSON.stringify({ error: { code: e.code ?? "FAILED", message: e.message, hint: e.hint ?? null } })}\n`,
    );
  }
  process.stderr.write(`termhost: ${e.describe?.() ?? e.message}\n`);
  process.exit(code);
}

program
  .parseAsync(process.argv)
  .then(() => process.exit(Exit.OK))
  .catch((e: unknown) => {
    if (e instanceof CliExit) {
      if (e.message !== "") process.stderr.write(`termhost: ${e.message}\n`);
      process.exit(e.exitCode);
    }
    if (e instanceof CommanderError) {
      // Help and --version end with exit code 0; anything else commander refused is usage.
      process.exit(e.exitCode === 0 ? Exit.OK : Exit.USAGE);
    }
    if (isTermhostError(e)) fail(exitCodeFor(e.code), e);
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") fail(Exit.NOT_FOUND, err);
    if (err.code === "EACCES" || err.code === "EPERM") fail(Exit.REFUSED, err);
    fail(Exit.FAILED, err instanceof Error ? err : new Error(String(e)));
  });
