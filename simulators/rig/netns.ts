import { spawnSync } from "node:child_process";

/**
 * A network namespace whose loopback routes carry `quickack 1`: vpcd writes a length and a payload
 * as two segments, and without quick ACKs every APDU waits ~40 ms for a delayed ACK.
 * Returns false when the machine does not allow namespaces (not root, no CAP_SYS_ADMIN).
 */
export function createQuickackNamespace(name: string): boolean {
  const steps: string[][] = [
    ["netns", "add", name],
    ["-n", name, "link", "set", "lo", "up"],
    ...["127.0.0.0/8", "127.0.0.1"].map((dst) => [
      "-n",
      name,
      "route",
      "change",
      "local",
      dst,
      "dev",
      "lo",
      "table",
      "local",
      "proto",
      "kernel",
      "scope",
      "host",
      "src",
      "127.0.0.1",
      "quickack",
      "1",
    ]),
  ];
  for (const [i, args] of steps.entries()) {
    const r = spawnSync("ip", args, { stdio: "ignore" });
    if (r.status !== 0) {
      if (i > 0) spawnSync("ip", ["netns", "delete", name], { stdio: "ignore" });
      return false;
    }
  }
  return true;
}
