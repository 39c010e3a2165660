import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchResult } from "../../src/api/schemas/postage.js";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import { allBatches, openBatches } from "../../src/postage/ledger/state.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { waitForEvent } from "../../src/util/wait.js";
import { Prng } from "../pcsc/support/prng.js";
import { SIMULATED_METER } from "../support/meter.js";
import { DaemonKillBench } from "./support/daemon-kills.js";
import { auditJournal, METER, type MeterBench, openService, startMeterBench } from "./support/meter-bench.js";

const SCALE = process.env.TERMHOST_LONG === "1" ? 5 : 1;
/** Each campaign takes about 20 s in CI size: five times more needs more than the default timeout. */
const CAMPAIGN = { timeout: 60_000 * SCALE };
/**
 * 45 restarts of termhostd, each reconciling its meter (resending open intents since the piece
 * count can say a piece printed): about 40 s on a quiet 2-core machine, twice that when busy.
 */
const KILL_CAMPAIGN = { timeout: 150_000 * SCALE };
const SEED = Number(process.env.TERMHOST_SEED ?? 20_250_602);
const BAUD = 460_800;
const piece = (amount: number): PieceSpec => ({ amount, currency: "EUR", class: 2, origin: "75001" });

describe("faults at random points of batches: cable cuts, corrupted bytes, kill -9", () => {
  let bench: MeterBench;
  let service: PostageService | undefined;
  const rng = new Prng(SEED);
  let points = 0;
  let run = 0;

  beforeAll(async () => {
    bench = await startMeterBench({ baud: BAUD, funds: 10_000_000 });
  });
  afterAll(async () => {
    await service?.stop();
    await bench?.close();
  });

  async function batchWithFault(arm: () => void, cut: boolean): Promise<void> {
    const s = service as PostageService;
    const driver = s.driver(METER);
    await driver.whenReady(10_000);
    const pieces = Array.from({ length: 1 + rng.int(4) }, () => piece(1 + rng.int(500)));
    const started = await s.startBatch({
      meter: METER,
      pieces,
      requestId: `fault-${run++}`,
      onInsufficient: "reject",
    });
    arm();
    points++;
    if (cut) {
      const ended = s.waitForEnd(started.batchId, 30_000);
      const down = waitForEvent(driver, "down", () => true, 30_000);
      await Promise.race([ended, down]);
      bench.sim.restoreCable();
    }
    const end = await s.waitForEnd(started.batchId, 30_000);
    bench.sim.restoreCable();
    expect(end.state).toBe("completed");
    expect(end.printedPieces).toBe(pieces.length);
  }

  it(
    `cable cuts at ${100 * SCALE} random byte offsets: every batch completes, nothing printed twice`,
    CAMPAIGN,
    async () => {
      service = await openService(bench);
      let downs = 0;
      service.driver(METER).on("down", () => downs++);
      for (let i = 0; i < 100 * SCALE; i++)
        await batchWithFault(() => bench.sim.cutCableAt(rng.int(100)), true);
      // Every cut falls inside the batch (a piece is about 110 bytes both ways) and takes the line down.
      expect(downs).toBeGreaterThanOrEqual(100 * SCALE);
    },
  );

  it(`corrupted bytes at ${60 * SCALE} random points, either direction`, CAMPAIGN, async () => {
    const dropsBefore = bench.sim.frameDrops.length;
    for (let i = 0; i < 60 * SCALE; i++)
      await batchWithFault(() => {
        const n = 1 + rng.int(8);
        const dir = rng.int(2) === 0 ? "fromMeter" : "toMeter";
        // Let a random number of bytes pass first, then damage the next ones.
        bench.sim.behaviours.unshift(() => {
          bench.sim.corruptNext(n, dir);
          bench.sim.behaviours.shift();
          return undefined;
        });
      }, false);
    bench.sim.behaviours.length = 0;
    expect(bench.sim.frameDrops.length - dropsBefore).toBeGreaterThan(0);
    await service?.stop();
    service = undefined;
  });

  describe("kill -9 of termhostd itself", () => {
    let kills: DaemonKillBench | undefined;
    afterAll(async () => {
      await kills?.close();
    });

    it(
      `at ${45 * SCALE} random moments of batches started through its socket, restarting it each time on the same state dir`,
      KILL_CAMPAIGN,
      async () => {
        kills = await DaemonKillBench.start(10_000_000);
        const t0 = Date.now();
        for (let round = 0; round < 45 * SCALE; round++) {
          await kills.killRound(round, rng);
          points++;
        }
        const phases = kills.kills.map((k) =>
          k.phase === "startup" ? "startup" : k.events === 0 ? "first" : "mid",
        );
        console.log(
          `kill -9 of termhostd: ${kills.kills.length} kills in ${Date.now() - t0} ms ` +
            `(${phases.filter((p) => p === "startup").length} at start-up, ` +
            `${phases.filter((p) => p === "first").length} before any batch event, ` +
            `${phases.filter((p) => p === "mid").length} mid-batches), ${kills.batches.size} batches`,
        );
        expect(kills.kills).toHaveLength(45 * SCALE);
      },
    );

    it("after the last restart: every batch final with exact counts, registers and journal agree, nothing printed twice or left reserved", async () => {
      const k = kills as DaemonKillBench;
      const { client, results } = await k.settle();
      try {
        const final = [...results.values()].filter((r): r is BatchResult => r !== undefined);
        let interrupted = 0;
        for (const b of k.batches.values()) {
          const r = results.get(b.requestId);
          // A batch whose start was answered was journaled first: it is known after any kill.
          if (b.started !== undefined) expect(r, b.requestId).toBeDefined();
          if (r === undefined) {
            expect(b.toldPrinted, b.requestId).toBe(0);
            continue;
          }
          expect(["completed", "interrupted"], b.requestId).toContain(r.state);
          if (r.state === "interrupted") interrupted++;
          if (r.state === "completed") expect(r.printedPieces).toBe(r.acceptedPieces);
          expect(r.indicia).toHaveLength(r.printedPieces);
          expect(new Set(r.indicia.map((i) => i.pieceIndex)).size).toBe(r.printedPieces);
          for (const i of r.indicia)
            expect(b.pieces[i.pieceIndex], `${b.requestId} piece ${i.pieceIndex}`).toBe(i.amount);
          expect(r.consumed).toBe(r.indicia.reduce((s, i) => s + i.amount, 0));
          expect(r.remaining).toBe(0);
          expect(r.consumed + r.released).toBe(r.reserved);
          // What clients were told before a kill is what the journal kept.
          expect(r.printedPieces).toBeGreaterThanOrEqual(b.toldPrinted);
          for (const told of b.toldIndicia) expect(r.indicia).toContainEqual(told);
          if (b.ended !== undefined) expect(r).toEqual(b.ended);
        }
        expect(interrupted).toBeGreaterThan(0);
        const cut = final.filter((r) => r.printedPieces > 0 && r.printedPieces < r.acceptedPieces).length;
        console.log(
          `after ${k.kills.length} kills: ${k.batches.size} batches started by clients, ` +
            `${final.filter((r) => r.state === "completed").length} completed, ${interrupted} interrupted ` +
            `(${cut} part-printed), ${k.batches.size - final.length} never journaled; ` +
            `${final.reduce((s, r) => s + r.printedPieces, 0)} indicia`,
        );

        const indicia = final.flatMap((r) => r.indicia);
        const meter = k.meter.registers();
        expect(meter.ascending + meter.descending).toBe(meter.controlTotal);
        expect(meter.pieceCount).toBe(indicia.length);
        expect(k.meter.core.printsExecuted).toBe(indicia.length);
        expect(new Set(indicia.map((i) => i.txnId)).size).toBe(indicia.length);
        expect(new Set(indicia.map((i) => i.sequence)).size).toBe(indicia.length);
        expect(meter.ascending).toBe(indicia.reduce((s, i) => s + i.amount, 0));

        const balance = await client.call("postage.balance", { meter: SIMULATED_METER });
        expect(balance).toMatchObject({
          reserved: 0,
          balance: meter.descending,
          unreserved: meter.descending,
        });
      } finally {
        client.close();
      }
      await k.stopDaemon();
      const audit = await auditJournal(k.journalPath);
      expect(audit.violations).toEqual([]);
      expect([...openBatches(audit.state)]).toEqual([]);
      expect(audit.printed).toHaveLength(k.meter.registers().pieceCount);
      expect(new Set(audit.printed.map((p) => p.txnId)).size).toBe(audit.printed.length);
    });
  });

  it(`afterwards (${"≥"}200 fault points): registers balance, piece count = indicia journaled, none printed twice, reservations ≤ balance throughout`, async () => {
    expect(points).toBeGreaterThanOrEqual(200 * SCALE);
    await service?.stop();
    service = undefined;
    const r = bench.sim.registers();
    expect(r.ascending + r.descending).toBe(r.controlTotal);
    const audit = await auditJournal(bench.journalPath);
    expect(audit.violations).toEqual([]);
    expect(audit.printed).toHaveLength(r.pieceCount);
    expect(new Set(audit.printed.map((p) => p.txnId)).size).toBe(r.pieceCount);
    expect(new Set(audit.printed.map((p) => p.sequence)).size).toBe(r.pieceCount);
    expect(bench.sim.core.printsExecuted).toBe(r.pieceCount);
    expect([...openBatches(audit.state)]).toEqual([]);
    const printedValue =
      audit.printed.length > 0
        ? [...allBatches(audit.state)].reduce((s, b) => s + b.indicia.reduce((t, x) => t + x.amount, 0), 0)
        : 0;
    expect(printedValue).toBe(r.ascending);
  });
});
