import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { openSync } from "node:fs";
import { builtEntry } from "../../src/util/paths.js";

export interface TrackedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited, with its code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly logPath: string;
}

/**
 * Starts and ends the processes of one rig. Every process is also registered with a guard process
 * that ends them (and deletes the rig's network namespaces) if this process dies without cleaning up.
 */
export class ProcessGroup {
  private readonly guard: ChildProcess;
  private readonly procs = new Set<TrackedProcess>();
  private readonly namespaces = new Set<string>();

  constructor() {
    this.guard = spawn(process.execPath, [builtEntry("simulators/rig/guard.js")], {
      stdio: ["pipe", "ignore", "inherit"],
      detached: true,
    });
    this.guard.unref();
    (this.guard.stdin as NodeJS.WritableStream & { unref?: () => void }).unref?.();
  }

  start(
    name: string,
    command: string,
    args: string[],
    options: { logPath: string; env?: NodeJS.ProcessEnv; stdout?: "pipe" | "log" },
  ): TrackedProcess {
    const log = openSync(options.logPath, "a");
    const child = spawn(command, args, {
      stdio: ["ignore", options.stdout === "pipe" ? "pipe" : log, log],
      env: { ...process.env, ...options.env },
      // Own process group: Ctrl-C reaches the launcher only, which stops the rig in order.
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    const pid = child.pid;
    this.tell(`pid ${pid}`);
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", () => resolve({ code: null, signal: null }));
    });
    const tracked: TrackedProcess = { name, child, pid, exited, logPath: options.logPath };
    this.procs.add(tracked);
    void exited.then(() => {
      this.procs.delete(tracked);
      this.tell(`unpid ${pid}`);
    });
    return tracked;
  }

  addNamespace(name: string): void {
    this.namespaces.add(name);
    this.tell(`netns ${name}`);
  }

  deleteNamespace(name: string): void {
    spawnSync("ip", ["netns", "delete", name], { stdio: "ignore" });
    this.namespaces.delete(name);
    this.tell(`unnetns ${name}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(p: TrackedProcess, graceMs = 3000): Promise<void> {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    signal(p.pid, "SIGTERM");
    const timer = setTimeout(() => signal(p.pid, "SIGKILL"), graceMs);
    await p.exited;
    clearTimeout(timer);
  }

  kill(p: TrackedProcess, sig: NodeJS.Signals = "SIGKILL"): void {
    signal(p.pid, sig);
  }

  /** Ends everything still running, newest first, then the namespaces and the guard. */
  async stopAll(): Promise<void> {
    for (const p of [...this.procs].reverse()) await this.stop(p);
    for (const ns of [...this.namespaces]) this.deleteNamespace(ns);
    this.guard.stdin?.end();
  }

  private tell(line: string): void {
    if (this.guard.stdin?.writable) this.guard.stdin.write(`${line}\n`);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
