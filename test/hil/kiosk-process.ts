import { execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { builtEntry } from "../../src/util/paths.js";

const run = promisify(execFile);

/** What `termhost-sim run` prints on its `ready` line. */
export interface KioskReady {
  control: string;
  api: string;
  readers: string[];
  issuer: string | null;
}

export interface KioskProcess {
  dir: string;
  ready: KioskReady;
  /** Runs a termhost-sim subcommand against this kiosk and parses what it prints. */
  sim(...args: string[]): Promise<unknown>;
  /** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** `termhost-sim run --daemon` as a child process, from a scenario text, ready when this resolves. */
export async function startKiosk(
  scenario: string,
  extraArgs: (dir: string) => string[] = () => [],
  /** The folder of an earlier kiosk: its state directory is used again. */
  reuse?: string,
): Promise<KioskProcess> {
  const dir = reuse ?? mkdtempSync(join(tmpdir(), "termhost-hil-"));
  writeFileSync(join(dir, "kiosk.yaml"), scenario);
  const control = join(dir, "kiosk.sock");
  const child = spawn(
    process.execPath,
    [
      builtEntry("simulators/main.js"),
      "run",
      "--scenario",
      join(dir, "kiosk.yaml"),
      "--state",
      join(dir, "state"),
      "--daemon",
      "--socket",
      join(dir, "api.sock"),
      "--control",
      control,
      ...extraArgs(dir),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(killer);
  };
  try {
    const ready = await new Promise<KioskReady>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("termhost-sim run not ready within 30 s")), 30_000);
      void exited.then(() => reject(new Error("termhost-sim run exited before it was ready")));
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
        if (!line.startsWith("ready ")) return;
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(6)) as KioskReady);
      });
    });
    const sim = async (...args: string[]): Promise<unknown> => {
      const { stdout } = await run(process.execPath, [
        builtEntry("simulators/main.js"),
        ...args,
        "--control",
        control,
      ]);
      return JSON.parse(stdout) as unknown;
    };
    return { dir, ready, sim, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Re-checks `check` until it gives a value; fails naming `what` after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
