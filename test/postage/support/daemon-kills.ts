import { join } from "node:path";
import type { MeterSimulator } from "../../../simulators/meter/meter-simulator.js";
import { ProcessGroup } from "../../../simulators/rig/processes.js";
import { Rig } from "../../../simulators/rig/rig.js";
import { BatchResult } from "../../../src/api/schemas/postage.js";
import { TermhostClient } from "../../../src/client/client.js";
import { isTermhostError } from "../../../src/errors/errors.js";
import { waitUntil } from "../../../src/util/wait.js";
import type { Prng } from "../../pcsc/support/prng.js";
import { startDaemon, type TestDaemon } from "../../support/daemon.js";
import { SIMULATED_METER, startSimulatedMeter } from "../../support/meter.js";

const FINAL = new Set(["completed", "interrupted", "cancelled", "failed"]);

/** One batch as its kiosk client saw it, across the kill that may have cut it. */
export interface ClientBatch {
  requestId: string;
  round: number;
  pieces: number[];
  /** The reply to postage.batch.start, when it came before the kill. */
  started: BatchResult | undefined;
  /** The reply to postage.batch.status with a wait, when the batch ended before the kill. */
  ended: BatchResult | undefined;
  /** The most indicia any event or reply told a client of before the kill. */
  toldPrinted: number;
  /** Every indicium a reply carried before the kill. */
  toldIndicia: BatchResult["indicia"];
}

/** Where in its life each kill caught the daemon. */
export interface KillPoint {
  round: number;
  /** "startup": just after the daemon answered (meter connection, reconciliation); else mid-batches. */
  phase: "startup" | "batches";
  /** Batch events seen before the kill. */
  events: number;
  batches: number;
}

/**
 * termhostd as a real child process, restarted on one state dir, with the meter simulator on the
 * device end of a pty pair in this process, where it outlives every daemon it serves: for kill -9
 * campaigns against the whole daemon (socket API, journal, batch sessions, meter reconciliation).
 */
export class DaemonKillBench {
  readonly batches = new Map<string, ClientBatch>();
  readonly kills: KillPoint[] = [];
  private daemon: TestDaemon | undefined;

  private constructor(
    readonly rig: Rig,
    private readonly group: ProcessGroup,
    readonly meter: MeterSimulator,
    private readonly overrides: Record<string, unknown>,
  ) {}

  static async start(funds: number): Promise<DaemonKillBench> {
    const rig = await Rig.start();
    const group = new ProcessGroup();
    try {
      const m = await startSimulatedMeter(group, rig.dir, funds);
      return new DaemonKillBench(rig, group, m.sim, { logLevel: "info", postage: m.postageConfig });
    } catch (e) {
      await group.stopAll();
      await rig.stop();
      throw e;
    }
  }

  get journalPath(): string {
    return join(this.rig.dir, "daemon-state", "postage.journal");
  }

  get socketPath(): string {
    return join(this.rig.dir, "api.sock");
  }

  /**
   * One fault point: starts the daemon on the same state dir, lets kiosk clients start batches
   * through the socket, and kills the daemon with SIGKILL at a moment drawn from `rng`: right after
   * it answers (meter connection and reconciliation under way), or after a random number of batch
   * events (0: before the first reservation may be journaled) plus a few milliseconds.
   */
  async killRound(round: number, rng: Prng): Promise<KillPoint> {
    const daemon = await startDaemon(this.rig, this.overrides);
    this.daemon = daemon;
    const clients: TermhostClient[] = [];
    const stopEvents = new AbortController();
    try {
      if (rng.int(5) === 0) {
        const point: KillPoint = { round, phase: "startup", events: 0, batches: 0 };
        await pause(rng.int(40));
        await this.kill(daemon, point);
        return point;
      }
      const count = 1 + rng.int(3);
      const plans = Array.from({ length: count }, (_, b) => ({
        requestId: `kill-${round}-${b}`,
        pieces: Array.from({ length: 1 + rng.int(8) }, () => 1 + rng.int(300)),
      }));
      const total = plans.reduce((s, p) => s + p.pieces.length, 0);
      // Batch events come a few per piece (started, each indicium, ended): aim anywhere in the run.
      const killAfter = rng.int(2 * total + 2);
      const jitterMs = rng.int(6);
      for (let i = 0; i < count + 1; i++)
        clients.push(await TermhostClient.connect({ socketPath: daemon.socketPath, reconnect: false }));
      const watcher = clients[count] as TermhostClient;
      let events = 0;
      let wake: () => void = () => undefined;
      const enough = new Promise<void>((resolve) => {
        wake = resolve;
      });
      const tracked = plans.map((p) => {
        const b: ClientBatch = {
          ...p,
          round,
          started: undefined,
          ended: undefined,
          toldPrinted: 0,
          toldIndicia: [],
        };
        this.batches.set(p.requestId, b);
        return b;
      });
      const watching = (async () => {
        for await (const item of watcher.events(["postage"], { signal: stopEvents.signal })) {
          if (item.type !== "event") continue;
          const data = item.data as { kind?: string; requestId?: string; printedPieces?: number };
          if (data.kind !== "batch") continue;
          const b = data.requestId === undefined ? undefined : this.batches.get(data.requestId);
          if (b !== undefined) b.toldPrinted = Math.max(b.toldPrinted, data.printedPieces ?? 0);
          if (++events >= killAfter) wake();
        }
      })().catch(() => undefined);
      // A call answered after the subscription on the same connection: no batch event is missed.
      await watcher.call("postage.balance", { meter: SIMULATED_METER });
      if (killAfter === 0) wake();
      const running = tracked.map((b, i) => this.runBatch(clients[i] as TermhostClient, b));
      await Promise.race([enough, Promise.all(running)]);
      await pause(jitterMs);
      const point: KillPoint = { round, phase: "batches", events, batches: count };
      await this.kill(daemon, point);
      await Promise.all(running);
      stopEvents.abort();
      await watching;
      return point;
    } finally {
      stopEvents.abort();
      for (const c of clients) c.close();
      await this.kill(daemon);
    }
  }

  /** A kiosk client's batch: start it, then wait for its end; whatever the kill cuts stays unknown. */
  private async runBatch(client: TermhostClient, b: ClientBatch): Promise<void> {
    const tell = (r: BatchResult): void => {
      b.toldPrinted = Math.max(b.toldPrinted, r.printedPieces);
      b.toldIndicia.push(...r.indicia);
    };
    try {
      const pieces = b.pieces.map((amount) => ({ amount, currency: "EUR", class: 1, origin: "10115" }));
      b.started = BatchResult.parse(
        await client.call("postage.batch.start", {
          meter: SIMULATED_METER,
          pieces,
          requestId: b.requestId,
          onInsufficient: "reject",
        }),
      );
      tell(b.started);
      const end = BatchResult.parse(
        await client.call("postage.batch.status", { batchId: b.started.batchId, waitMs: 20_000 }, 25_000),
      );
      tell(end);
      if (FINAL.has(end.state)) b.ended = end;
    } catch (e) {
      if (!isTermhostError(e, "DAEMON_UNREACHABLE")) throw e;
    }
  }

  private async kill(daemon: TestDaemon, point?: KillPoint): Promise<KillPoint | undefined> {
    if (this.daemon !== daemon) return undefined;
    this.daemon = undefined;
    await this.rig.kill(daemon.process, "SIGKILL");
    if (point !== undefined) this.kills.push(point);
    return point;
  }

  /**
   * Starts the daemon once more and waits until the meter is connected and every batch the
   * clients ever started has its final state; returns them by request id (undefined: the daemon
   * never journaled that batch).
   */
  async settle(timeoutMs = 20_000): Promise<{
    daemon: TestDaemon;
    client: TermhostClient;
    results: Map<string, BatchResult | undefined>;
  }> {
    const daemon = await startDaemon(this.rig, this.overrides);
    this.daemon = daemon;
    const client = await TermhostClient.connect({ socketPath: daemon.socketPath });
    const results = await waitUntil(
      "the meter to be connected and every batch to be final after the last restart",
      async () => {
        if (!(await client.call("postage.balance", { meter: SIMULATED_METER })).connected) return undefined;
        const results = new Map<string, BatchResult | undefined>();
        for (const requestId of this.batches.keys()) {
          const r = await client.call("postage.batch.status", { requestId }).catch((e: unknown) => {
            if (isTermhostError(e, "POSTAGE_BATCH_UNKNOWN")) return undefined;
            throw e;
          });
          if (r !== undefined && !FINAL.has(r.state)) return undefined;
          results.set(requestId, r);
        }
        return results;
      },
      timeoutMs,
      50,
    );
    return { daemon, client, results };
  }

  async stopDaemon(): Promise<void> {
    const d = this.daemon;
    this.daemon = undefined;
    await d?.stop();
  }

  async close(): Promise<void> {
    await this.stopDaemon();
    await this.meter.close();
    await this.group.stopAll();
    await this.rig.stop();
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
