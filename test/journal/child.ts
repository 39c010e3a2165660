/** Spawns the compiled crash-test child (dist/test/support/journal/writer-child.js) and collects its lines. */
import { type ChildProcess, spawn } from "node:child_process";
import { builtEntry } from "../../src/util/paths.js";

const CHILD = "test/support/journal/writer-child.js";

/** Fails early, with the build command, when the compiled child is missing. */
export function assertBuilt(): void {
  builtEntry(CHILD);
}

export interface Child {
  readonly proc: ChildProcess;
  readonly lines: string[];
  /** Resolves when a line satisfying `pred` has arrived. */
  waitFor(pred: (line: string, count: number) => boolean): Promise<void>;
  /** Resolves after the process exited and its output is drained. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startChild(args: string[]): Child {
  const proc = spawn(process.execPath, [builtEntry(CHILD), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  let waiters: { pred: (l: string, n: number) => boolean; resolve: () => void }[] = [];
  proc.stdout?.setEncoding("utf8");
  proc.stdout?.on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) {
      lines.push(line);
      waiters = waiters.filter((w) => {
        if (!w.pred(line, lines.length)) return true;
        w.resolve();
        return false;
      });
    }
  });
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (c: string) => {
    stderr += c;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) => {
      proc.on("close", (code, signal) => {
        for (const w of waiters) w.resolve();
        waiters = [];
        resolve({ code, signal, stderr });
      });
    },
  );
  return {
    proc,
    lines,
    exited,
    waitFor: (pred) =>
      new Promise<void>((resolve) => {
        if (lines.some((l, i) => pred(l, i + 1)) || proc.exitCode !== null) resolve();
        else waiters.push({ pred, resolve });
      }),
  };
}
