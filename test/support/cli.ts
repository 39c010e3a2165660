import { spawn } from "node:child_process";
import { builtEntry } from "../../src/util/paths.js";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Called with everything written to stderr so far, after each chunk (to wait for a line). */
  onStderr?: (stderr: string) => void;
}

/**
 * Runs the compiled `termhost` as a technician would, with colours off unless asked for
 * (NO_COLOR is honoured by the CLI; tests are not a terminal anyway).
 */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    // The test runner's own socket settings must not leak into the CLI under test.
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...options.env };
    if (options.env?.TERMHOST_SOCKET === undefined) delete env.TERMHOST_SOCKET;
    if (options.env?.TERMHOST_ADMIN_SOCKET === undefined) delete env.TERMHOST_ADMIN_SOCKET;
    const child = spawn(process.execPath, [builtEntry("src/cli/main.js"), ...args], {
      env,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr);
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `termhost ${args.join(" ")} did not end within ${options.timeoutMs ?? 30_000} ms\n${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? "");
  });
}

/** stdout parsed as one JSON document, with the run in the message when it is not JSON. */
export function jsonOf(run: CliRun): unknown {
  try {
    return JSON.parse(run.stdout);
  } catch {
    throw new Error(`not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}
