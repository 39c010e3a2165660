/**
 * Rig guard: a tiny process that outlives its owner by a moment. The owner writes `pid N` and
 * `netns NAME` lines to our stdin as it creates things; when stdin closes — the owner finished,
 * crashed or was killed with SIGKILL — we end every listed process and delete every listed
 * namespace, so a failed or timed-out test leaves nothing behind.
 */
import { spawnSync } from "node:child_process";
import { createInterface } from "node:readline";

const pids = new Set<number>();
const namespaces = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cleanup(): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      pids.delete(pid);
    }
  }
  const until = Date.now() + 2000;
  while ([...pids].some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const ns of namespaces) spawnSync("ip", ["netns", "delete", ns], { stdio: "ignore" });
  process.exit(0);
}

process.on("SIGINT", () => {
  // the owner decides when the rig ends; Ctrl-C reaches it too
});
process.on("SIGTERM", () => void cleanup());

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const [kind, value] = line.trim().split(/\s+/, 2);
  if (value === undefined) return;
  if (kind === "pid") pids.add(Number(value));
  else if (kind === "unpid") pids.delete(Number(value));
  else if (kind === "netns") namespaces.add(value);
  else if (kind === "unnetns") namespaces.delete(value);
});
rl.on("close", () => void cleanup());
