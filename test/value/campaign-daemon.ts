import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TrackedProcess } from "../../simulators/rig/processes.js";
import type { Rig } from "../../simulators/rig/rig.js";
import { TermhostClient } from "../../src/client/client.js";
import { DAEMON_NODE_FLAGS } from "../../src/daemon/node-flags.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import type { SecondTerminalReport } from "../support/second-terminal.js";

/** Debian's libfaketime (package `faketime`): shifts the wall clock of the process it is preloaded in. */
const FAKETIME_LIBS = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
];
export const faketimeLib: string | undefined = FAKETIME_LIBS.find((p) => existsSync(p));

/**
 * The environment that runs a process with its wall clock `offsetSec` off the real one. The
 * monotonic clock stays real: timers and timeouts run at their true pace, as on a machine whose
 * clock was set (by hand, or a bad RTC) rather than one whose time runs at another speed.
 */
export function clockEnv(offsetSec: number): NodeJS.ProcessEnv {
  if (offsetSec === 0 || faketimeLib === undefined) return {};
  return {
    LD_PRELOAD: faketimeLib,
    FAKETIME: `${offsetSec >= 0 ? "+" : "-"}${Math.abs(Math.round(offsetSec))}`,
    DONT_FAKE_MONOTONIC: "1",
  };
}

/**
 * termhostd of the campaign's kiosk: a real child process on the rig's pcscd, with its wall clock
 * set `clockOffsetSec` off (libfaketime) from one start to the next.
 */
export class CampaignDaemon {
  readonly socketPath: string;
  readonly configPath: string;
  clockOffsetSec = 0;
  process: TrackedProcess | undefined;
  starts = 0;

  constructor(
    private readonly rig: Rig,
    config: Record<string, unknown>,
  ) {
    this.socketPath = join(rig.dir, "api.sock");
    this.configPath = join(rig.dir, "termhostd.json");
    writeFileSync(
      this.configPath,
      JSON.stringify({
        mode: "simulation",
        logLevel: "info",
        stateDir: join(rig.dir, "daemon-state"),
        api: { socketPath: this.socketPath, requestsPerSecond: 10_000, requestBurst: 20_000 },
        pcsc: { socketPath: rig.pcscSocket, retryMinMs: 50, retryMaxMs: 500 },
        ...config,
      }),
    );
  }

  async start(): Promise<void> {
    const proc = this.rig.spawn(
      "termhostd",
      process.execPath,
      [...DAEMON_NODE_FLAGS, builtEntry("src/daemon/main.js"), "--config", this.configPath],
      clockEnv(this.clockOffsetSec),
    );
    this.process = proc;
    this.starts++;
    await waitUntil(
      "termhostd to answer",
      async () => {
        if (proc.child.exitCode !== null)
          throw new Error(`termhostd exited with ${proc.child.exitCode}; see ${proc.logPath}`);
        try {
          (await TermhostClient.connect({ socketPath: this.socketPath, timeoutMs: 1000 })).close();
          return true;
        } catch {
          return undefined;
        }
      },
      30_000,
      25,
    );
  }

  /** SIGKILL, as a power cut or the OOM killer would. */
  async kill(): Promise<void> {
    if (this.process !== undefined) await this.rig.kill(this.process);
    this.process = undefined;
  }

  /** SIGTERM: the daemon lets its exchanges end and closes its PC/SC handles, as at a shutdown. */
  async stop(): Promise<void> {
    if (this.process !== undefined) await this.rig.stopProcess(this.process);
    this.process = undefined;
  }

  /**
   * The offline compaction a technician runs (`termhost journal compact value`), under the daemon's
   * clock: the daemon must be stopped.
   */
  compact(): Promise<string> {
    return runNode(
      [builtEntry("src/cli/main.js"), "--json", "journal", "compact", "value", "--config", this.configPath],
      clockEnv(this.clockOffsetSec),
    );
  }
}

/** Another terminal's purchases on the card in `reader`, through plain pcsclite, in its own process. */
export async function secondTerminal(
  rig: Rig,
  slot: number,
  terminalId: string,
  amounts: number[],
): Promise<{ report: SecondTerminalReport; tries: number }> {
  const reader = rig.readerNames[slot] as string;
  const progress = join(rig.dir, `second-terminal-${Date.now()}-${slot}.json`);
  const args = [
    builtEntry("test/support/second-terminal.js"),
    rig.pcscSocket,
    reader,
    terminalId,
    amounts.join(","),
    progress,
  ];
  for (let tries = 1; ; tries++) {
    try {
      return { report: JSON.parse(await runNode(args, {})) as SecondTerminalReport, tries };
    } catch (e) {
      // Right after a torn card is put back, pcscd may still be busy with the killed daemon's
      // handle to it and drop the card again: the customer re-seats it, the terminal carries on.
      if (!(e instanceof NodeExit && e.code === 3) || tries >= 4) throw e;
      await rig.remove(slot);
      await rig.insert(slot);
    }
  }
}

class NodeExit extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

function runNode(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new NodeExit(`${args.slice(0, 3).join(" ")} exited ${code}: ${stderr}${stdout}`, code));
    });
  });
}
