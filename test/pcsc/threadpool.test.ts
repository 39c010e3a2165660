/**
 * Stuck card readers against the journal (review finding 9). pcsclite runs every SCardTransmit on
 * libuv's threadpool, as the journal runs its durable writes: cards that never answer must not be
 * able to take every thread and so hold up a journal commit, and with it every money path.
 *
 * The readers and the journal live in a child process (test/support/threadpool-child.ts) so that
 * its threadpool is sized by its own environment, as the daemon's is.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";

const READERS = 6;
/** How long the cards stay silent unless the append comes back first. */
const HOLD_MS = 10_000;
/** The bound on a journal append while the cards are silent; an unhindered one takes milliseconds. */
const APPEND_BOUND_MS = 2_000;

interface ChildLine {
  event: string;
  [k: string]: unknown;
}

class Child {
  readonly proc: ChildProcess;
  private readonly lines: ChildLine[] = [];
  private waiters: Array<() => void> = [];
  stderr = "";

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.proc = spawn(process.execPath, [builtEntry("test/support/threadpool-child.js"), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      env,
    });
    this.proc.stderr?.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    createInterface({ input: this.proc.stdout as NodeJS.ReadableStream }).on("line", (line) => {
      this.lines.push(JSON.parse(line) as ChildLine);
      for (const w of this.waiters) w();
    });
    this.proc.on("exit", () => {
      for (const w of this.waiters) w();
    });
  }

  send(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  count(event: string): number {
    return this.lines.filter((l) => l.event === event).length;
  }

  all(event: string): ChildLine[] {
    return this.lines.filter((l) => l.event === event);
  }

  /** The `n`-th line of `event` (1-based), or undefined once `timeoutMs` passed without it. */
  waitFor(event: string, n: number, timeoutMs: number): Promise<ChildLine | undefined> {
    return new Promise((resolve) => {
      const check = (): boolean => {
        const found = this.all(event)[n - 1];
        if (found !== undefined || this.proc.exitCode !== null || this.proc.signalCode !== null) {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((w) => w !== onLine);
          resolve(found);
          return true;
        }
        return false;
      };
      const onLine = (): void => {
        check();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== onLine);
        resolve(undefined);
      }, timeoutMs);
      if (!check()) this.waiters.push(onLine);
    });
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
  }
}

describe("stuck card readers and the journal", () => {
  let rig: Rig;
  const children: Child[] = [];

  beforeAll(async () => {
    builtEntry("test/support/threadpool-child.js");
    rig = await Rig.start({
      readerEntries: READERS / 2,
      slots: Array.from({ length: READERS }, () => ({ inserted: true })),
    });
  });
  afterAll(async () => {
    for (const c of children) c.kill();
    await rig?.stop();
  });

  async function stalled(): Promise<number> {
    const { slots } = await rig.simStatus();
    return slots.reduce((n, s) => n + s.held, 0);
  }

  async function run(label: string, env: NodeJS.ProcessEnv): Promise<void> {
    for (let slot = 0; slot < READERS; slot++) await rig.control.call("card.stall", { slot, stalled: true });
    const childEnv = { ...process.env, ...env };
    if (env.UV_THREADPOOL_SIZE === undefined) delete childEnv.UV_THREADPOOL_SIZE;
    const child = new Child(
      [rig.pcscSocket, join(rig.dir, `${label}.journal`), ...rig.readerNames],
      childEnv,
    );
    children.push(child);
    try {
      const sent = await child.waitFor("sent", 1, 30_000);
      expect(sent, `child never sent its APDUs: ${child.stderr}`).toBeDefined();
      const budget = sent?.nativeCallBudget;
      // Every APDU the process may have on the threadpool is in a card's hands, unanswered.
      const poolSize = Number(env.UV_THREADPOOL_SIZE ?? 4);
      const onPool = Math.min(READERS, typeof budget === "number" ? budget : poolSize);
      await waitUntil(
        `${onPool} APDUs held by the cards`,
        async () => ((await stalled()) === onPool ? true : undefined),
        20_000,
      );

      child.send("append");
      const appended = await child.waitFor("appended", 1, HOLD_MS);
      const heldThroughout = await stalled();
      for (let slot = 0; slot < READERS; slot++)
        await rig.control.call("card.stall", { slot, stalled: false });

      // Released, every card answers: the exchanges that waited for a thread were only delayed.
      const last = await child.waitFor("answered", READERS, 30_000);
      expect(last, `not every exchange was answered: ${child.stderr}`).toBeDefined();
      expect(child.all("answered").map((l) => l.sw)).toEqual(Array(READERS).fill("9000"));
      process.stdout.write(
        `threadpool ${label}: ${onPool} APDUs unanswered on the pool, append ${appended === undefined ? `not done in ${HOLD_MS} ms` : `${appended.ms as number} ms`}\n`,
      );
      expect(appended, `the append waited for the stuck transmits (${onPool} on the pool)`).toBeDefined();
      expect(heldThroughout).toBe(onPool);
      expect(appended?.ms as number).toBeLessThan(APPEND_BOUND_MS);
      child.send("exit");
      await new Promise((r) => child.proc.once("exit", r));
    } finally {
      for (let slot = 0; slot < READERS; slot++)
        await rig.control.call("card.stall", { slot, stalled: false });
      child.kill();
    }
  }

  it("commits a journal record while six cards do not answer, on libuv's default four threads", async () => {
    await run("default-pool", {});
  }, 120_000);

  it("commits a journal record while six cards do not answer, on the pool size the service unit sets", async () => {
    await run("unit-pool", { UV_THREADPOOL_SIZE: "16" });
  }, 120_000);
});
