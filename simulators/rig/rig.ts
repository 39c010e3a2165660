import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { z } from "zod";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { builtEntry } from "../../src/util/paths.js";
import type { SlotStatus } from "../control/methods.js";
import { type CardSpec, DEFAULT_CARD, type Scenario } from "../scenario.js";
import { createQuickackNamespace } from "./netns.js";
import { type Pcscd, startPcscd } from "./pcscd.js";
import { ProcessGroup, type TrackedProcess } from "./processes.js";
import { type PtyPair, startPtyPair } from "./socat.js";

export type RigMode = "netns-quickack" | "host-loopback";

export interface RigOptions {
  /** vpcd reader entries; each gives two slots. */
  readerEntries?: number;
  /** "auto" uses a quickack namespace when the machine allows it; "off" forces the slow fallback. */
  netns?: "auto" | "off";
  /** Per slot (index = slot): its card (the default card unless given; null for none) and whether it starts inserted. */
  slots?: Array<{ card?: CardSpec | null; inserted?: boolean }>;
  dir?: string;
}

let rigCounter = 0;

/**
 * A whole simulated card stack of one test or of `make run`: a private pcscd with vpcd readers,
 * the card simulator process connected to vpcd, and a control socket to drive it. Everything runs
 * in a network namespace with quick ACKs when possible. `stop()` ends it all; a guard process ends it
 * if the owner dies first.
 */
export class Rig {
  private constructor(
    readonly dir: string,
    readonly mode: RigMode,
    readonly netns: string | undefined,
    private readonly group: ProcessGroup,
    private pcscdState: Pcscd,
    private readonly vpcdPorts: number[],
    readonly sim: TrackedProcess,
    readonly control: RpcClient,
    readonly controlPath: string,
  ) {}

  static async start(options: RigOptions = {}): Promise<Rig> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "termhost-rig-"));
    const entries = options.readerEntries ?? 1;
    const group = new ProcessGroup();
    try {
      const nsName = `th${process.pid}-${rigCounter++}`;
      const netns = options.netns !== "off" && createQuickackNamespace(nsName) ? nsName : undefined;
      if (netns !== undefined) group.addNamespace(netns);
      const vpcdPorts =
        netns !== undefined
          ? Array.from({ length: entries }, (_, i) => 35963 + 2 * i)
          : await freePortPairs(entries);
      const pcscd = await startPcscd(group, { dir, vpcdPorts, netns });
      const slotPorts = vpcdPorts.flatMap((p) => [p, p + 1]);
      const scenario: Scenario = {
        slots: slotPorts.map((port, i) => {
          const s = options.slots?.[i];
          const slot: Scenario["slots"][number] = {
            host: "127.0.0.1",
            port,
            inserted: s?.inserted ?? false,
          };
          const card = s?.card === undefined ? DEFAULT_CARD : s.card;
          if (card !== null) slot.card = card;
          return slot;
        }),
      };
      const scenarioPath = join(dir, "scenario.json");
      writeFileSync(scenarioPath, JSON.stringify(scenario, null, 2));
      const controlPath = join(dir, "sim.sock");
      const simArgs = [
        builtEntry("simulators/main.js"),
        "serve",
        "--scenario",
        scenarioPath,
        "--control",
        controlPath,
      ];
      const [cmd, ...args] =
        netns === undefined
          ? [process.execPath, ...simArgs]
          : ["ip", "netns", "exec", netns, process.execPath, ...simArgs];
      const sim = group.start("termhost-sim", cmd as string, args, {
        logPath: join(dir, "sim.log"),
        stdout: "pipe",
      });
      await readyLine(sim, 15_000);
      const control = await RpcClient.connect(controlPath);
      return new Rig(
        dir,
        netns === undefined ? "host-loopback" : "netns-quickack",
        netns,
        group,
        pcscd,
        vpcdPorts,
        sim,
        control,
        controlPath,
      );
    } catch (e) {
      await group.stopAll();
      throw e;
    }
  }

  get pcscSocket(): string {
    return this.pcscdState.socketPath;
  }

  get readerNames(): string[] {
    return this.pcscdState.readerNames;
  }

  get pcscd(): TrackedProcess {
    return this.pcscdState.process;
  }

  async insert(slot: number): Promise<z.infer<typeof SlotStatus>> {
    return (await this.control.call("card.insert", { slot })) as z.infer<typeof SlotStatus>;
  }

  async remove(slot: number): Promise<z.infer<typeof SlotStatus>> {
    return (await this.control.call("card.remove", { slot })) as z.infer<typeof SlotStatus>;
  }

  async simStatus(): Promise<{ slots: Array<z.infer<typeof SlotStatus>> }> {
    return (await this.control.call("sim.status")) as { slots: Array<z.infer<typeof SlotStatus>> };
  }

  /** Kills pcscd (SIGKILL by default) and starts a fresh one on the same socket and readers. */
  async restartPcscd(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.group.kill(this.pcscdState.process, signal);
    await this.pcscdState.process.exited;
    this.pcscdState = await startPcscd(this.group, {
      dir: this.dir,
      vpcdPorts: this.vpcdPorts,
      netns: this.netns,
    });
  }

  /** Starts another process inside the rig's namespace (or plainly, in fallback mode), tracked by the rig. */
  spawn(name: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): TrackedProcess {
    return this.group.start(name, command, args, { logPath: join(this.dir, `${name}.log`), env });
  }

  stopProcess(p: TrackedProcess): Promise<void> {
    return this.group.stop(p);
  }

  /** A socat pty pair in the rig's folder, ended with the rig: a serial line for a meter. */
  ptyPair(name: string): Promise<PtyPair> {
    return startPtyPair(this.group, this.dir, name);
  }

  /** Kills a process of the rig (SIGKILL by default) and resolves once it is gone. */
  async kill(p: TrackedProcess, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.group.kill(p, signal);
    await p.exited;
  }

  async stop(): Promise<void> {
    this.control.close();
    await this.group.stopAll();
  }
}

function readyLine(proc: TrackedProcess, timeoutMs: number): Promise<void> {
  const stdout = proc.child.stdout;
  if (stdout === null) return Promise.reject(new Error("simulator has no stdout pipe"));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: stdout });
    const timer = setTimeout(
      () => reject(new Error(`simulator not ready within ${timeoutMs} ms; see ${proc.logPath}`)),
      timeoutMs,
    );
    rl.on("line", (line) => {
      if (line.startsWith("ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    void proc.exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited (${code ?? signal}) before it was ready; see ${proc.logPath}`));
    });
  });
}

/** Ports p where p and p + 1 are both free on the host (vpcd takes two per reader entry). */
async function freePortPairs(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const p = await ephemeralPort();
    if (p < 65535 && !ports.includes(p) && !ports.includes(p - 1) && (await portFree(p + 1))) ports.push(p);
  }
  return ports;
}

function ephemeralPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "0.0.0.0", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr !== null ? addr.port : 0));
    });
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "0.0.0.0", () => srv.close(() => resolve(true)));
  });
}
