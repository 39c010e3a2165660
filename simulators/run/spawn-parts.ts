import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import type { TrackedProcess } from "../rig/processes.js";
import type { Rig } from "../rig/rig.js";
import type { KioskScenario } from "./kiosk-scenario.js";

const START_MS = 15_000;

function sim(rig: Rig, name: string, args: string[]): TrackedProcess {
  return rig.spawn(name, process.execPath, [builtEntry("simulators/main.js"), ...args]);
}

function exitedError(p: TrackedProcess): Error {
  return new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}); see ${p.logPath}`);
}

async function controlAnswers(p: TrackedProcess, path: string): Promise<void> {
  const client = await waitUntil(
    `the control socket of ${p.name}`,
    async () => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw exitedError(p);
      return RpcClient.connect(path).catch(() => undefined);
    },
    START_MS,
    25,
  );
  client.close();
}

export interface StartedMeter {
  serial: string;
  profile: string;
  baud: number;
  /** The end termhostd opens. */
  hostPath: string;
  control: string;
  vendorKey: string;
}

/** A meter simulator on a pty pair, in its own process with its own control socket. */
export async function startMeter(
  rig: Rig,
  m: KioskScenario["meters"][number],
  stateFile: string,
  vendorKey: string,
): Promise<StartedMeter> {
  const line = await rig.ptyPair(`meter-${m.serial}`);
  const control = join(rig.dir, `meter-${m.serial}.sock`);
  const p = sim(rig, `meter-${m.serial}`, [
    "meter",
    "--port",
    line.devicePath,
    "--state",
    stateFile,
    "--baud",
    String(m.baud),
    "--control",
    control,
  ]);
  await controlAnswers(p, control);
  return { serial: m.serial, profile: m.profile, baud: m.baud, hostPath: line.hostPath, control, vendorKey };
}

/** A scale simulator on a Unix socket (termhostd's `socket` scale transport). */
export async function startScale(
  rig: Rig,
  s: KioskScenario["scales"][number],
  index: number,
): Promise<{ socket: string; control: string }> {
  const socket = join(rig.dir, `scale-${index}.sock`);
  const control = join(rig.dir, `scale-${index}-control.sock`);
  const p = sim(rig, `scale-${index}`, [
    "scale",
    "--socket",
    socket,
    "--control",
    control,
    "--grams",
    String(s.grams),
    "--capacity",
    String(s.capacityGrams),
    "--interval-ms",
    String(s.reportIntervalMs),
  ]);
  await controlAnswers(p, control);
  return { socket, control };
}

/** The issuer host on a free loopback port; its URL is what it prints when ready. */
export async function startIssuer(rig: Rig, stateFile: string): Promise<string> {
  const p = sim(rig, "issuer", ["issuer", "--state", stateFile, "--port", "0"]);
  return waitUntil(
    "the issuer host to be ready",
    () => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw exitedError(p);
      let log = "";
      try {
        log = readFileSync(p.logPath, "utf8");
      } catch {
        // not written yet
      }
      return /^ready (\S+)$/m.exec(log)?.[1];
    },
    START_MS,
    25,
  );
}
