import { EventEmitter } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ReaderStateBit } from "../../src/pcsc/pcsclite-binding.js";
import { builtEntry } from "../../src/util/paths.js";
import type { ProcessGroup, TrackedProcess } from "./processes.js";

/**
 * What pcscd itself reports about the readers of a rig, as a PC/SC client sees it: the states that
 * a witness process (pcsc-watch.ts) streams. `restart()` replaces the witness, so that a fresh
 * PC/SC context reads every state anew: the way out when a notification may have been missed.
 */
export class PcscWitness {
  private proc: TrackedProcess | undefined;
  private states = new Map<string, number>();
  private readonly changes = new EventEmitter();
  private lastError: string | undefined;

  constructor(
    private readonly group: ProcessGroup,
    private readonly dir: string,
    private readonly socketPath: string,
  ) {}

  /** Starts a witness, ending the one before; resolves once it runs, before it has reported. */
  async restart(): Promise<void> {
    await this.stop();
    const proc = this.group.start(
      "pcsc-watch",
      process.execPath,
      [builtEntry("simulators/rig/pcsc-watch.js")],
      {
        logPath: join(this.dir, "pcsc-watch.log"),
        env: { PCSCLITE_CSOCK_NAME: this.socketPath },
        stdout: "pipe",
      },
    );
    this.proc = proc;
    const stdout = proc.child.stdout;
    if (stdout === null) throw new Error("the pcscd witness has no stdout pipe");
    createInterface({ input: stdout }).on("line", (line) => {
      if (this.proc !== proc) return;
      let report: { reader?: unknown; state?: unknown; error?: unknown };
      try {
        report = JSON.parse(line) as typeof report;
      } catch {
        return;
      }
      if (typeof report.error === "string") this.lastError = report.error;
      if (typeof report.reader === "string" && typeof report.state === "number") {
        this.states.set(report.reader, report.state);
        this.changes.emit("change");
      }
    });
    void proc.exited.then(({ code, signal }) => {
      if (this.proc !== proc) return;
      // What it reported can no longer be trusted to be current.
      this.states = new Map();
      this.lastError ??= `the pcscd witness exited (${code ?? signal})`;
      this.changes.emit("change");
    });
  }

  async stop(): Promise<void> {
    const old = this.proc;
    this.proc = undefined;
    this.states = new Map();
    this.lastError = undefined;
    if (old === undefined) return;
    this.group.kill(old);
    await old.exited;
  }

  /** True or false as pcscd last reported a card in the reader; undefined before any report. */
  cardPresent(reader: string): boolean | undefined {
    const state = this.states.get(reader);
    return state === undefined ? undefined : (state & ReaderStateBit.PRESENT) !== 0;
  }

  /** Resolves true once each reader's card is present or absent as wanted, false after `timeoutMs`. */
  waitFor(want: ReadonlyMap<string, boolean>, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const check = (): void => {
        if ([...want].every(([reader, present]) => this.cardPresent(reader) === present)) done(true);
      };
      const done = (met: boolean): void => {
        clearTimeout(timer);
        this.changes.off("change", check);
        resolve(met);
      };
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      this.changes.on("change", check);
      check();
    });
  }

  /** The reader's last reported state word in words, for error messages. */
  describe(reader: string): string {
    const word = this.states.get(reader);
    if (word === undefined)
      return this.lastError === undefined ? "no state reported" : `no state (${this.lastError})`;
    // The upper 16 bits count the reader's events; the state is in the lower ones.
    const state = word & 0xffff;
    const bits = Object.entries(ReaderStateBit)
      .filter(([, bit]) => (state & bit) !== 0)
      .map(([name]) => name.toLowerCase());
    return `0x${state.toString(16).padStart(4, "0")}${bits.length > 0 ? ` ${bits.join("|")}` : ""}`;
  }
}
