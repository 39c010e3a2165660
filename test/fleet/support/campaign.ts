import { join } from "node:path";
import { ProcessGroup, type TrackedProcess } from "../../../simulators/rig/processes.js";
import { isTermhostError } from "../../../src/errors/errors.js";
import { waitUntil } from "../../../src/util/wait.js";
import { Prng } from "../../pcsc/support/prng.js";
import { BlackholeProxy } from "../../support/blackhole.js";
import { TestPostgres } from "../../support/postgres.js";
import { type AuditReport, auditFleet, type KioskJournals, readKioskJournals } from "./audit.js";
import { FleetKiosk, METER } from "./kiosk.js";

export const FAULT_KINDS = ["kill", "db-stop", "blackhole", "terminate"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How often each fault is drawn; the kiosk kills and the terminations are cheap, a database stop is not. */
const FAULT_WEIGHTS: Record<FaultKind, number> = { kill: 30, "db-stop": 18, blackhole: 17, terminate: 35 };

const PIECE = { amount: 100, currency: "EUR", class: 1, origin: "10115", destination: "80331" };
const FINAL_BATCH = (s: string) => !["waiting", "printing", "suspended", "recovering"].includes(s);
/** Errors after which the same request id is asked again: the outcome was not seen. */
const RETRIED = new Set(["FLEET_UNAVAILABLE", "DAEMON_UNREACHABLE", "TIMEOUT"]);

export interface CampaignOptions {
  seed: number;
  faults: number;
  kiosks: number;
  dir: string;
  /** The meters' own funds at the start. */
  meterFunds: number;
  /** The account's first funding; the treasurer adds `topUp` whenever unreserved falls below `lowWater`. */
  opening: number;
  topUp: number;
  lowWater: number;
}

type Up = "up" | "down" | "starting";

interface Counts {
  faults: Record<FaultKind, number>;
  terminatedBackends: number;
  refills: Record<string, number>;
  batches: Record<string, number>;
  pieces: number;
  fundings: number;
  settleRounds: number;
  /** Answers no fault explains: a defect's error (INTERNAL) reaching the client. */
  unexpected: string[];
}

/**
 * A seeded fault campaign against kiosks sharing one fleet account: every kiosk refills and prints
 * without pause while the fault loop kills kiosks (and starts them again), stops the database like
 * a crash, silences one kiosk's network, and ends database connections. The fault loop draws from
 * the seed; what a fault hits depends on timing, so a rerun with the same seed makes the same
 * choices but not the same interleavings.
 */
export class Campaign {
  readonly group = new ProcessGroup();
  readonly kiosks: FleetKiosk[] = [];
  private readonly up: Up[] = [];
  private readonly restarts = new Set<Promise<void>>();
  /** Daemons the campaign itself kills or stops; any other exit is a crash. */
  private readonly expectedExits = new Set<TrackedProcess>();
  private readonly problems: string[] = [];
  /** Per kiosk, the batches the load asked for whose end the settling has not seen in the ledger yet. */
  private readonly batchRequests: Set<string>[] = [];
  private stopping = false;
  readonly counts: Counts = {
    faults: { kill: 0, "db-stop": 0, blackhole: 0, terminate: 0 },
    terminatedBackends: 0,
    refills: {},
    batches: {},
    pieces: 0,
    fundings: 0,
    settleRounds: 0,
    unexpected: [],
  };

  private constructor(
    readonly o: CampaignOptions,
    readonly pg: TestPostgres,
    readonly proxy: BlackholeProxy,
  ) {}

  static async start(o: CampaignOptions): Promise<Campaign> {
    const pg = await TestPostgres.start();
    const proxy = await BlackholeProxy.start({ path: pg.socketPath }).catch(async (e: unknown) => {
      await pg.destroy();
      throw e;
    });
    const c = new Campaign(o, pg, proxy);
    try {
      await pg.createDatabase("fleet");
      const starts = await Promise.allSettled(
        Array.from({ length: o.kiosks }, (_, i) =>
          FleetKiosk.start(c.group, {
            id: `kiosk-${i}`,
            dir: join(o.dir, `kiosk-${i}`),
            funds: o.meterFunds,
            serial: `PM3${String(i).padStart(2, "0")}`,
            // Kiosk 0 reaches the database through the proxy whose link can go silent.
            database:
              i === 0 ? { host: "127.0.0.1", port: proxy.port } : { host: pg.socketDir, port: pg.port },
            fleet: {
              outbox: { retryMs: 200 },
              ...(i % 2 === 1
                ? { autoRefill: { floor: 400, amount: 1500 }, onInsufficient: "partial" }
                : { onInsufficient: "reject" }),
            },
          }),
        ),
      );
      // Every kiosk that did start is closed again should another not.
      const started = starts.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      c.kiosks.push(...started);
      const failed = starts.find((s) => s.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      c.up.push(...started.map((): Up => "up"));
      c.batchRequests.push(...started.map(() => new Set<string>()));
      for (const i of started.keys()) c.watch(i);
      await waitUntil(
        "the fleet schema",
        async () => (await c.sql("SELECT to_regclass('fleet_account') AS t"))[0]?.t ?? undefined,
        15_000,
      );
      await c.sql("SELECT fleet_fund('fleet', 'EUR', $1, 'opening')", [o.opening]);
      c.counts.fundings++;
    } catch (e) {
      await c.close();
      throw e;
    }
    return c;
  }

  sql<T = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
    return this.pg.query(text, values, "fleet") as Promise<T[]>;
  }

  /** Load on every kiosk while the faults run; resolves once the faults are done and the load has stopped. */
  async run(): Promise<void> {
    const loads = this.kiosks.map((_, i) => this.load(i));
    const treasurer = this.treasurer();
    try {
      await this.injectFaults();
    } finally {
      this.stopping = true;
      await Promise.all([...loads, treasurer]);
    }
  }

  /**
   * Everything back up, then waits until nothing is in flight: no open value transaction or batch
   * in any journal, no reservation sending, every finished transaction in the fleet ledger. The
   * journals are read with the daemons stopped; a kiosk found with work left is started again and
   * waited for (a stop can interrupt an automatic refill that began after the last look).
   */
  async settle(): Promise<KioskJournals[]> {
    await this.allUp();
    for (let round = 1; ; round++) {
      this.counts.settleRounds = round;
      let lookedFrom = 0;
      await waitUntil(
        "every kiosk settled",
        () => {
          lookedFrom = Date.now();
          return this.quiet();
        },
        90_000,
        200,
      );
      await this.stopDaemons();
      const journals = await Promise.all(this.kiosks.map((k) => readKioskJournals(k.configPath)));
      const known = await this.ledgerIds();
      const left = journals.map((j, i) => {
        const id = this.kiosks[i]?.o.id;
        const missing = j.rows.filter((r) => !known.has(`${id}/${r.tx_id}`));
        // The look saw every batch and every value transaction begun before it, finished and in
        // the ledger: one missing now was lost on the way, not late.
        for (const r of missing) {
          const began = r.kind === "batch" ? 0 : Date.parse(String(r.body.createdAt));
          if (!(began >= lookedFrom))
            this.problems.push(
              `kiosk ${id}: ${r.kind} ${r.tx_id} was settled when looked at, yet is not in the ledger`,
            );
        }
        return j.openValue.length + j.openBatches.length + missing.length;
      });
      if (left.every((n) => n === 0) || round === 3) return journals;
      await Promise.all(this.kiosks.map((_, i) => ((left[i] ?? 0) > 0 ? this.startDaemon(i) : undefined)));
    }
  }

  async audit(journals: KioskJournals[]): Promise<AuditReport> {
    return auditFleet({
      query: (text, values) => this.sql(text, values),
      account: "fleet",
      kiosks: this.kiosks.map((k, i) => ({
        id: k.o.id,
        serial: k.o.serial,
        startFunds: this.o.meterFunds,
        controlTotal: k.sim.registers().controlTotal,
        journals: journals[i] as KioskJournals,
      })),
    });
  }

  /** Trouble of the harness itself (a kiosk that would not start again): the campaign fails on it. */
  get harnessProblems(): readonly string[] {
    return this.problems;
  }

  async close(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.restarts]);
    if (this.proxy.paused) this.proxy.resume();
    for (const k of this.kiosks) this.expectExit(k);
    for (const k of this.kiosks) await k.close().catch(() => undefined);
    await this.group.stopAll();
    await this.proxy.close();
    await this.pg.destroy();
  }

  // --- faults ---------------------------------------------------------------------------------

  private async injectFaults(): Promise<void> {
    const rng = new Prng(this.o.seed);
    const total = Object.values(FAULT_WEIGHTS).reduce((a, b) => a + b, 0);
    const draw = (): FaultKind => {
      let x = rng.int(total);
      for (const k of FAULT_KINDS) {
        x -= FAULT_WEIGHTS[k];
        if (x < 0) return k;
      }
      return "terminate";
    };
    let injected = 0;
    let blackhole: Promise<void> | undefined;
    while (injected < this.o.faults) {
      const kind = draw();
      let done = false;
      switch (kind) {
        case "kill": {
          // At least one kiosk stays up: the load goes on somewhere while others restart.
          const candidates = this.kiosks.map((_, i) => i).filter((i) => this.up[i] === "up");
          if (candidates.length < 2) break;
          const i = rng.pick(candidates);
          const downMs = rng.int(500);
          await this.kill(i, downMs);
          done = true;
          break;
        }
        case "db-stop": {
          const downMs = 200 + rng.int(1300);
          await this.pg.stopImmediate();
          done = true;
          await hold(downMs);
          await this.pg.restart();
          break;
        }
        case "blackhole": {
          if (blackhole !== undefined) break;
          // Longer than the kiosk's statement timeout (1.5 s) half of the time: its statements hang, then fail.
          const silentMs = 500 + rng.int(3500);
          this.proxy.pause();
          done = true;
          blackhole = hold(silentMs).then(() => {
            this.proxy.resume();
            blackhole = undefined;
          });
          break;
        }
        case "terminate": {
          const n = await this.pg.terminateBackends();
          this.counts.terminatedBackends += n;
          // Ending nothing (every pool idle-closed) is no fault.
          done = n > 0;
          break;
        }
      }
      if (done) {
        this.counts.faults[kind]++;
        injected++;
      }
      await hold(50 + rng.int(350));
    }
    await blackhole;
  }

  private async kill(i: number, downMs: number): Promise<void> {
    const k = this.kiosks[i] as FleetKiosk;
    this.up[i] = "down";
    this.expectExit(k);
    await k.kill();
    this.restartLater(i, downMs);
  }

  private restartLater(i: number, downMs: number): void {
    const k = this.kiosks[i] as FleetKiosk;
    const restart = (async () => {
      await hold(downMs);
      this.up[i] = "starting";
      try {
        await this.startDaemon(i);
        this.up[i] = "up";
      } catch (e) {
        this.problems.push(`kiosk ${k.o.id} did not start again: ${String(e)}`);
      }
    })();
    this.restarts.add(restart);
    void restart.finally(() => this.restarts.delete(restart));
  }

  private async startDaemon(i: number): Promise<void> {
    await (this.kiosks[i] as FleetKiosk).startDaemon();
    this.watch(i);
  }

  private async stopDaemons(): Promise<void> {
    for (const k of this.kiosks) this.expectExit(k);
    await Promise.all(this.kiosks.map((k) => k.stopDaemon()));
  }

  private expectExit(k: FleetKiosk): void {
    if (k.process !== undefined) this.expectedExits.add(k.process);
  }

  /** A daemon that ends without being killed or stopped is a defect: noted, and started again so the run goes on. */
  private watch(i: number): void {
    const k = this.kiosks[i] as FleetKiosk;
    const p = k.process;
    if (p === undefined) return;
    void p.exited.then(({ code, signal }) => {
      if (this.expectedExits.has(p)) return;
      this.problems.push(
        `kiosk ${k.o.id} (pid ${p.pid}) exited by itself with code ${code}, signal ${signal}; see ${p.logPath}`,
      );
      if (k.process === p) k.process = undefined;
      if (this.up[i] === "up" && !this.stopping) {
        this.up[i] = "down";
        this.restartLater(i, 0);
      }
    });
  }

  private async allUp(): Promise<void> {
    while (this.restarts.size > 0) await Promise.allSettled([...this.restarts]);
    if (this.proxy.paused) this.proxy.resume();
    if (!this.pg.running) await this.pg.restart();
    for (const [i, k] of this.kiosks.entries())
      if (!k.running) {
        await this.startDaemon(i);
        this.up[i] = "up";
      }
  }

  // --- load -------------------------------------------------------------------------------------

  private async load(i: number): Promise<void> {
    const k = this.kiosks[i] as FleetKiosk;
    const rng = new Prng(this.o.seed * 31 + i + 1);
    const auto = i % 2 === 1;
    for (let n = 0; !this.stopping; n++) {
      if (this.up[i] !== "up") {
        await waitUntil(
          `kiosk ${k.o.id} up`,
          () => (this.up[i] === "up" || this.stopping ? true : undefined),
          60_000,
        );
        continue;
      }
      const funds = (await k.call("postage.balance", { meter: METER }, 5000).catch((e: unknown) => e)) as {
        unreserved?: number;
      };
      const pieces = 1 + rng.int(8);
      // A kiosk without automatic refills asks for one when the batch would not fit; one with them
      // leaves it to the batch, and both refill now and then regardless.
      const short = typeof funds.unreserved === "number" && funds.unreserved < pieces * PIECE.amount;
      if ((short && !auto) || rng.int(100) < (auto ? 10 : 15))
        await this.refill(k, `r-${i}-${n}`, 500 + 100 * rng.int(26));
      else {
        const requestId = `b-${i}-${n}`;
        this.batchRequests[i]?.add(requestId);
        await this.batch(k, requestId, pieces);
      }
    }
  }

  private async refill(k: FleetKiosk, requestId: string, amount: number): Promise<void> {
    let outcome = "unknown";
    for (let attempt = 0; attempt < 4 && !this.stopping; attempt++) {
      const a = await k
        .call("postage.refill", { meter: METER, amount, nextInspection: "2099-12-31", requestId }, 15_000)
        .catch((e: unknown) => e);
      outcome = isTermhostError(a) ? a.code : ((a as { state?: string }).state ?? "unknown");
      this.noteUnexpected(k, requestId, a);
      if (!RETRIED.has(outcome)) break;
      await this.backOff(k, outcome, attempt);
    }
    this.counts.refills[outcome] = (this.counts.refills[outcome] ?? 0) + 1;
  }

  private async batch(k: FleetKiosk, requestId: string, pieces: number): Promise<void> {
    let start: unknown;
    for (let attempt = 0; attempt < 4 && !this.stopping; attempt++) {
      // The same request id answers the same batch: asking again after a lost answer starts nothing new.
      start = await k
        .call("postage.batch.start", {
          meter: METER,
          pieces: Array.from({ length: pieces }, () => PIECE),
          requestId,
          onInsufficient: "reject",
        })
        .catch((e: unknown) => e);
      this.noteUnexpected(k, requestId, start);
      if (!isTermhostError(start) || !RETRIED.has(start.code)) break;
      await this.backOff(k, start.code, attempt);
    }
    let outcome = isTermhostError(start) ? start.code : "started";
    if (!isTermhostError(start))
      for (let attempt = 0; attempt < 6 && !this.stopping; attempt++) {
        const s = await k
          .call("postage.batch.status", { requestId, waitMs: 10_000 }, 15_000)
          .catch((e: unknown) => e);
        this.noteUnexpected(k, requestId, s);
        if (isTermhostError(s)) {
          outcome = s.code;
          if (!RETRIED.has(s.code)) break;
          await this.backOff(k, s.code, attempt);
          continue;
        }
        const v = s as { state: string; printedPieces: number };
        outcome = v.state;
        if (FINAL_BATCH(v.state)) {
          this.counts.pieces += v.printedPieces;
          break;
        }
      }
    this.counts.batches[outcome] = (this.counts.batches[outcome] ?? 0) + 1;
  }

  private noteUnexpected(k: FleetKiosk, requestId: string, answer: unknown): void {
    if (isTermhostError(answer) ? answer.code === "INTERNAL" : answer instanceof Error)
      this.counts.unexpected.push(`kiosk ${k.o.id} ${requestId}: ${String(answer)}`);
  }

  /** Before asking again: a killed kiosk is waited for, a database that did not answer is given a moment. */
  private async backOff(k: FleetKiosk, code: string, attempt: number): Promise<void> {
    if (code === "DAEMON_UNREACHABLE") await this.whenUp(k);
    else await hold(250 * (attempt + 1));
  }

  private async whenUp(k: FleetKiosk): Promise<void> {
    const i = this.kiosks.indexOf(k);
    await waitUntil(
      `kiosk ${k.o.id} up`,
      () => (this.up[i] === "up" || this.stopping ? true : undefined),
      60_000,
    );
  }

  /** Funds the account again when it runs low, so the run sees both refusals and grants. */
  private async treasurer(): Promise<void> {
    while (!this.stopping) {
      const rows = await this.sql<{ u: string }>(
        "SELECT balance - reserved AS u FROM fleet_account WHERE id = 'fleet'",
      ).catch(() => []);
      const u = rows[0]?.u;
      if (u !== undefined && Number(u) < this.o.lowWater) {
        const ok = await this.sql("SELECT fleet_fund('fleet', 'EUR', $1, 'top-up')", [this.o.topUp]).then(
          () => true,
          () => false,
        );
        // A lost answer to a funding whose COMMIT went through would go uncounted: the audit reads
        // `funded` from the account and checks it against fleet_funding, not against this count.
        if (ok) this.counts.fundings++;
      }
      await hold(500);
    }
  }

  // --- settling -------------------------------------------------------------------------------

  private async ledgerIds(): Promise<Set<string>> {
    const rows = await this.sql<{ id: string }>("SELECT kiosk_id || '/' || tx_id AS id FROM fleet_ledger");
    return new Set(rows.map((r) => r.id));
  }

  /**
   * True once no reservation is sending and every running kiosk has nothing open, with each of its
   * value transactions and each batch the load asked for finished and in the fleet ledger.
   */
  private async quiet(): Promise<true | undefined> {
    const sending = await this.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM fleet_reservation WHERE state = 'sending'",
    );
    if (sending[0]?.n !== 0) return undefined;
    const known = await this.ledgerIds();
    const each = await Promise.all(
      this.kiosks.map(async (k, i) => {
        if (!k.running) return true;
        const list = (await k.adminCall("admin.restore.list", { all: true }, 5000)) as {
          transactions?: Array<{ txId: string; state: string }>;
        };
        if (list.transactions === undefined) return false;
        for (const t of list.transactions)
          if (t.state === "pending" || t.state === "restoring" || !known.has(`${k.o.id}/${t.txId}`))
            return false;
        const m = (await k.call("postage.balance", { meter: METER }, 5000).catch((e: unknown) => e)) as {
          connected?: boolean;
          reserved?: number;
        };
        if (m.connected !== true || m.reserved !== 0) return false;
        const asked = this.batchRequests[i] as Set<string>;
        for (const requestId of [...asked]) {
          const s = (await k.call("postage.batch.status", { requestId }, 5000).catch((e: unknown) => e)) as {
            batchId?: string;
            state?: string;
          };
          if (isTermhostError(s, "POSTAGE_BATCH_UNKNOWN")) asked.delete(requestId);
          else if (s.state === undefined || !FINAL_BATCH(s.state) || !known.has(`${k.o.id}/${s.batchId}`))
            return false;
          else asked.delete(requestId);
        }
        return true;
      }),
    );
    return each.every(Boolean) ? true : undefined;
  }
}

/** A fault's planned duration, or the pause between faults: drawn from the seed, not waited on as a condition. */
function hold(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
