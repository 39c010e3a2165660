import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { vendorAuthorize } from "../../simulators/meter/vendor.js";
import { refillTxnId } from "../../src/postage/batch/ids.js";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitForEvent } from "../../src/util/wait.js";
import { Prng } from "../pcsc/support/prng.js";
import {
  auditJournal,
  METER,
  type MeterBench,
  openService,
  SERIAL,
  startMeterBench,
} from "./support/meter-bench.js";

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

  it("a refill interrupted at each step is applied exactly once", async () => {
    const s = service as PostageService;
    const link = s.driver(METER).link;
    const before = bench.sim.registers().controlTotal;
    let expected = before;
    const amount = (n: number) => 1000 + n;

    // 1. The meter loses power after its pending credit is on disk; it finishes it at power-up.
    bench.sim.tearNextRefill();
    const down1 = waitForEvent(s.driver(METER), "down", () => true, 10_000);
    const torn = s.refill({
      meter: METER,
      amount: amount(1),
      nextInspection: "2099-12-31",
      requestId: "rf-1",
      authorization: auth("rf-1", amount(1)),
      waitMs: 10_000,
    });
    await down1;
    bench.sim.powerOn();
    expect((await torn).state).toBe("applied");
    expected += amount(1);
    expect(bench.sim.registers().controlTotal).toBe(expected);

    // 2. The response is lost after the meter applied it.
    bench.sim.behaviours.unshift((req) => {
      if (req.command !== 0x05) return undefined;
      bench.sim.cutCableAt(8);
      bench.sim.behaviours.shift();
      return undefined;
    });
    const down2 = waitForEvent(s.driver(METER), "down", () => true, 10_000);
    const lost = s.refill({
      meter: METER,
      amount: amount(2),
      nextInspection: "2099-12-31",
      requestId: "rf-2",
      authorization: auth("rf-2", amount(2)),
      waitMs: 10_000,
    });
    await down2;
    bench.sim.restoreCable();
    expect((await lost).state).toBe("applied");
    expected += amount(2);
    expect(bench.sim.registers().controlTotal).toBe(expected);

    // 3. The request never reaches the meter.
    bench.sim.cutCableAt(3);
    const down3 = waitForEvent(s.driver(METER), "down", () => true, 10_000);
    const unsent = s.refill({
      meter: METER,
      amount: amount(3),
      nextInspection: "2099-12-31",
      requestId: "rf-3",
      authorization: auth("rf-3", amount(3)),
      waitMs: 10_000,
    });
    await down3;
    bench.sim.restoreCable();
    expect((await unsent).state).toBe("applied");
    expected += amount(3);

    // 4. The process dies after journaling the refill, before sending it.
    await s.ledger.write([{ type: "refill.pending", body: pendingBody("rf-4", amount(4)) }]);
    // 5. The process dies after the meter applied it, before journaling the outcome.
    const rf5 = pendingBody("rf-5", amount(5));
    await s.ledger.write([{ type: "refill.pending", body: rf5 }]);
    await link.refill({
      txnId: rf5.txnId,
      amount: rf5.amount,
      nextInspection: rf5.nextInspection,
      authorization: rf5.authorization,
    });
    await s.stop();
    service = await openService(bench);
    expected += amount(4) + amount(5);
    expect(bench.sim.registers().controlTotal).toBe(expected);
    for (const id of ["rf-1", "rf-2", "rf-3", "rf-4", "rf-5"])
      expect(service.ledger.state.refills.get(id)?.state).toBe("applied");

    // Resending every request id applies nothing more.
    for (const n of [1, 2, 3, 4, 5])
      await service.refill({
        meter: METER,
        amount: amount(n),
        nextInspection: "2099-12-31",
        requestId: `rf-${n}`,
        authorization: auth(`rf-${n}`, amount(n)),
      });
    expect(bench.sim.registers().controlTotal).toBe(expected);
    const refills = bench.sim.state().recent.filter((t) => t.kind === "refill");
    expect(new Set(refills.map((t) => (t.kind === "refill" ? t.txnId : ""))).size).toBe(refills.length);
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

function auth(requestId: string, amount: number): string {
  return vendorAuthorize(TEST_VENDOR_KEY, SERIAL, {
    txnId: refillTxnId(SERIAL, requestId),
    amount,
    nextInspection: "2099-12-31",
  });
}

function pendingBody(requestId: string, amount: number) {
  return {
    requestId,
    meter: METER,
    txnId: refillTxnId(SERIAL, requestId),
    amount,
    nextInspection: "2099-12-31",
    authorization: auth(requestId, amount),
  };
}
