import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitForEvent } from "../../src/util/wait.js";
import { Prng } from "../pcsc/support/prng.js";
import { auditJournal, METER, type MeterBench, openService, startMeterBench } from "./support/meter-bench.js";

const LONG = process.env.TERMHOST_LONG === "1";
const SCALE = LONG ? 5 : 1;
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

  it(`cable cuts at ${100 * SCALE} random byte offsets: every batch completes, nothing printed twice`, async () => {
    service = await openService(bench);
    let downs = 0;
    service.driver(METER).on("down", () => downs++);
    for (let i = 0; i < 100 * SCALE; i++)
      await batchWithFault(() => bench.sim.cutCableAt(rng.int(100)), true);
    // Every cut falls inside the batch (a piece is about 110 bytes both ways) and takes the line down.
    expect(downs).toBeGreaterThanOrEqual(100 * SCALE);
  });

  it(`corrupted bytes at ${60 * SCALE} random points, either direction`, async () => {
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

  it(`kill -9 of the service process at ${45 * SCALE} random moments; restarts end batches interrupted with exact counts`, async () => {
    for (let i = 0; i < 45 * SCALE; i++) {
      const child = spawn(
        process.execPath,
        [
          builtEntry("test/support/postage/postage-child.js"),
          bench.journalPath,
          bench.pty.hostPath,
          String(BAUD),
          `k${i}`,
        ],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const exited = new Promise((r) => child.once("exit", r));
      const lines = createInterface({ input: child.stdout });
      const target = 1 + rng.int(12);
      let pieces = 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("child made no progress")), 20_000);
        lines.on("line", (l) => {
          if (l.startsWith("piece ")) pieces++;
          if (pieces >= target) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // A random moment inside the next exchanges: up to ~3 indicia at this baud.
      await new Promise((r) => setTimeout(r, rng.int(6)));
      child.kill("SIGKILL");
      await exited;
      points++;
    }
    service = await openService(bench);
    const open = [...service.ledger.state.batches.values()].filter((b) => b.outcome === null);
    expect(open).toEqual([]);
    const interrupted = [...service.ledger.state.batches.values()].filter((b) => b.outcome === "interrupted");
    expect(interrupted.length).toBeGreaterThan(0);
    for (const b of interrupted) {
      expect(b.remaining).toBe(0);
      expect(b.released).toBe(b.reserved - b.indicia.reduce((s, x) => s + x.amount, 0));
    }
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
    expect([...audit.state.batches.values()].filter((b) => b.outcome === null)).toEqual([]);
    const printedValue =
      audit.printed.length > 0
        ? [...audit.state.batches.values()].reduce(
            (s, b) => s + b.indicia.reduce((t, x) => t + x.amount, 0),
            0,
          )
        : 0;
    expect(printedValue).toBe(r.ascending);
  });
});
