import { existsSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "../../src/util/wait.js";
import type { ProcessGroup, TrackedProcess } from "./processes.js";

export interface PtyPair {
  /** The end the daemon opens, as a serial port. */
  hostPath: string;
  /** The end the device simulator opens. */
  devicePath: string;
  process: TrackedProcess;
}

/** A raw pty pair joined by socat: a serial line with no baud rate of its own. */
export async function startPtyPair(group: ProcessGroup, dir: string, name: string): Promise<PtyPair> {
  const hostPath = join(dir, `${name}-host`);
  const devicePath = join(dir, `${name}-device`);
  const proc = group.start(
    `socat ${name}`,
    "socat",
    [`pty,raw,echo=0,link=${hostPath}`, `pty,raw,echo=0,link=${devicePath}`],
    { logPath: join(dir, `socat-${name}.log`) },
  );
  await waitUntil(
    `socat pty pair ${name}`,
    () => {
      if (proc.child.exitCode !== null) throw new Error(`socat exited with ${proc.child.exitCode}`);
      return existsSync(hostPath) && existsSync(devicePath) ? true : undefined;
    },
    5000,
  );
  return { hostPath, devicePath, process: proc };
}
