import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TrackedProcess } from "../../simulators/rig/processes.js";
import type { Rig } from "../../simulators/rig/rig.js";
import { TermhostClient } from "../../src/client/client.js";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../../src/daemon/node-flags.js";
import { builtEntry } from "../../src/util/paths.js";
import { daemonThreadpoolEnv } from "../../src/util/threadpool.js";
import { waitUntil } from "../../src/util/wait.js";

export interface TestDaemon {
  socketPath: string;
  process: TrackedProcess;
  client(): Promise<TermhostClient>;
  stop(): Promise<void>;
}

/** termhostd as a real child process on a rig's pcscd, with its socket in the rig's folder. */
export async function startDaemon(rig: Rig, overrides: Record<string, unknown> = {}): Promise<TestDaemon> {
  const socketPath = join(rig.dir, "api.sock");
  const configPath = join(rig.dir, "termhostd.json");
  const config = {
    mode: "simulation",
    logLevel: "debug",
    stateDir: join(rig.dir, "daemon-state"),
    value: { retryMs: 300 },
    api: { socketPath },
    pcsc: { socketPath: rig.pcscSocket, retryMinMs: 50, retryMaxMs: 500 },
    ...overrides,
  };
  writeFileSync(configPath, JSON.stringify(config));
  const proc = rig.spawn(
    "termhostd",
    process.execPath,
    [...DAEMON_NODE_FLAGS, builtEntry("src/daemon/main.js"), "--config", configPath],
    { ...daemonThreadpoolEnv(), ...DAEMON_ENV },
  );
  await waitUntil(
    "termhostd to answer",
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`termhostd exited with ${proc.child.exitCode}; see ${proc.logPath}`);
      try {
        (await TermhostClient.connect({ socketPath, timeoutMs: 1000 })).close();
        return true;
      } catch {
        return undefined;
      }
    },
    15_000,
    25,
  );
  return {
    socketPath,
    process: proc,
    client: () => TermhostClient.connect({ socketPath }),
    stop: () => rig.stopProcess(proc),
  };
}
