import { appendFileSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { z } from "zod";
import { isTermhostError, TermhostError } from "../../src/errors/errors.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { builtEntry } from "../../src/util/paths.js";
import type { SlotStatus } from "../control/methods.js";
import { type CardSpec, DEFAULT_CARD, type Scenario } from "../scenario.js";
import { createQuickackNamespace } from "./netns.js";
import { PcscWitness } from "./pcsc-witness.js";
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

/** How long Rig.start and insert wait, in all, for pcscd to report an inserted card. */
const CARD_SEEN_TIMEOUT_MS = 20_000;
/**
 * pcscd polls vpcd for a card every 400 ms: a card not reported within this is a notification
 * missed or a connection vpcd did not take, not a slow poll, even on a loaded machine.
 */
const CARD_SEEN_ATTEMPT_MS = 3000;
/** How long a fresh witness is given to read pcscd's states before the card is inserted again. */
const CARD_RECHECK_MS = 2000;

/**
 * A whole simulated card stack of one test or of `make run`: a private pcscd with vpcd readers,
 * the card simulator process connected to vpcd, and a control socket to drive it. Everything runs
 * in a network namespace with quick ACKs when possible. `stop()` ends it all; a guard process ends it
 * if the owner dies first.
 *
 * A card the rig inserts (at start or by `insert`) is in place once pcscd itself reports it present,
 * not merely once the card simulator has connected to vpcd: a PC/SC client that starts right after
 * sees it at once, without depending on a notification it might miss.
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
    private readonly witness: PcscWitness,
  ) {}

  static async start(options: RigOptions = {}): Promise<Rig> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "termhost-rig-"));
    const entries = options.readerEntries ?? 1;
    const group = new ProcessGroup();
    let rig: Rig | undefined;
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
      const witness = new PcscWitness(group, dir, pcscd.socketPath);
      const watching = witness.restart();
      const sim = group.start("termhost-sim", cmd as string, args, {
        logPath: join(dir, "sim.log"),
        stdout: "pipe",
      });
      await readyLine(sim, 15_000);
      await watching;
      const control = await RpcClient.connect(controlPath);
      rig = new Rig(
        dir,
        netns === undefined ? "host-loopback" : "netns-quickack",
        netns,
        group,
        pcscd,
        vpcdPorts,
        sim,
        control,
        controlPath,
        witness,
      );
      const inserted = scenario.slots.flatMap((s, i) => (s.inserted && s.card !== undefined ? [i] : []));
      await rig.untilSeen(inserted, true, CARD_SEEN_TIMEOUT_MS, true);
      return rig;
    } catch (e) {
      rig?.control.close();
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

  /**
   * Inserts the slot's card and resolves once pcscd reports it present; a card vpcd did not take is
   * inserted again. Fails with TIMEOUT, naming what pcscd last reported, after `timeoutMs`.
   */
  async insert(slot: number, timeoutMs = CARD_SEEN_TIMEOUT_MS): Promise<z.infer<typeof SlotStatus>> {
    const status = (await this.control.call("card.insert", { slot })) as z.infer<typeof SlotStatus>;
    await this.untilSeen([slot], true, timeoutMs, true);
    return (await this.simStatus()).slots[slot] ?? status;
  }

  /** Resolves once pcscd itself reports the slot's card present (or absent), as a PC/SC client sees it. */
  async waitForCard(slot: number, present: boolean, timeoutMs = 10_000): Promise<void> {
    await this.untilSeen([slot], present, timeoutMs, false);
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
    await this.witness.stop();
    this.pcscdState = await startPcscd(this.group, {
      dir: this.dir,
      vpcdPorts: this.vpcdPorts,
      netns: this.netns,
    });
    await this.witness.restart();
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
    await this.witness.stop();
    await this.group.stopAll();
  }

  /**
   * Waits until pcscd reports a card present (or absent) in each slot's reader. When nothing comes
   * in time, a fresh witness asks pcscd again, in case a notification was missed; when pcscd still
   * does not show an inserted card, vpcd did not take its connection and, with `reinsert`, the card
   * is inserted again. Every step is noted in the rig's rig.log.
   */
  private async untilSeen(
    slots: number[],
    present: boolean,
    timeoutMs: number,
    reinsert: boolean,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const reader = (slot: number): string => {
      const name = this.readerNames[slot];
      if (name === undefined) throw new TermhostError("INVALID_PARAMS", `no reader for slot ${slot}`);
      return name;
    };
    const unseen = (): number[] => slots.filter((s) => this.witness.cardPresent(reader(s)) !== present);
    const want = (): Map<string, boolean> => new Map(unseen().map((s) => [reader(s), present]));
    const what = present ? "present" : "absent";
    let fresh = 0;
    let reinserted = 0;
    const seen = (): void => {
      if (fresh > 0)
        this.note(`slots ${slots.join(", ")}: ${what} (asked afresh ${fresh}, inserted again ${reinserted})`);
    };
    for (;;) {
      if (await this.witness.waitFor(want(), Math.min(CARD_SEEN_ATTEMPT_MS, deadline - Date.now()))) {
        return seen();
      }
      if (Date.now() >= deadline) break;
      this.note(`slots ${unseen().join(", ")}: pcscd reported no card ${what} in time; asking it afresh`);
      await this.witness.restart();
      fresh++;
      if (await this.witness.waitFor(want(), Math.min(CARD_RECHECK_MS, deadline - Date.now()))) return seen();
      if (Date.now() >= deadline || !reinsert) continue;
      for (const s of unseen()) {
        this.note(`slot ${s}: pcscd shows ${this.witness.describe(reader(s))}; inserting the card again`);
        // vpcd takes one connection at a time: the new one waits until it has let go of the old.
        const callMs = Math.max(1000, deadline - Date.now());
        await this.control.call("card.remove", { slot: s }, callMs);
        await this.control.call("card.insert", { slot: s }, callMs).catch((e: unknown) => {
          if (!isTermhostError(e, "TIMEOUT")) throw e;
        });
        reinserted++;
      }
    }
    const sim = await this.simStatus().catch(() => undefined);
    const missing = unseen().map((s) => {
      const inSim = sim?.slots[s]?.inserted;
      return `slot ${s} (reader "${reader(s)}": ${this.witness.describe(reader(s))}; simulator: ${
        inSim === undefined ? "unknown" : inSim ? "card connected" : "no card"
      })`;
    });
    const message =
      `pcscd did not report the card ${what} within ${timeoutMs} ms: ${missing.join(", ")}; ` +
      `asked pcscd afresh ${fresh} times, inserted again ${reinserted} times`;
    this.note(message);
    throw new TermhostError("TIMEOUT", message, {
      hint: `see ${join(this.dir, "pcscd.log")}, sim.log and rig.log`,
      context: { slots: unseen(), present },
    });
  }

  private note(line: string): void {
    appendFileSync(join(this.dir, "rig.log"), `${new Date().toISOString()} ${line}\n`);
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
