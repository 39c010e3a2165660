import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { isTermhostError } from "../../src/errors/errors.js";
import type { BatchView } from "../../src/postage/batch/views.js";
import type { InsufficientProcedure, PieceSpec } from "../../src/postage/ledger/records.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { auditJournal, METER, type MeterBench, openService, startMeterBench } from "./support/meter-bench.js";
import { openRefills, type Refills } from "./support/refills.js";

const piece = (amount: number): PieceSpec => ({ amount, currency: "EUR", class: 1, origin: "10115" });

describe("batch sessions against one meter over a pty", () => {
  let bench: MeterBench;
  let service: PostageService;
  let refills: Refills;
  const events: Array<Record<string, unknown>> = [];
  let waitListener: (e: Record<string, unknown>) => void = () => undefined;

  beforeAll(async () => {
    bench = await startMeterBench({ baud: 115_200, funds: 6_000, lowFundsThreshold: 1_000 });
    service = await openService(bench, {
      publish: (d) => {
        events.push(d);
        waitListener(d);
      },
      vendorKey: TEST_VENDOR_KEY,
    });
    refills = await openRefills(service, bench.dir);
  });
  afterAll(async () => {
    await refills?.close();
    await service?.stop();
    await bench?.close();
  });

  it("twelve clients at once: each gets its indicia or its insufficient-funds procedure; reserved never exceeds the balance", async () => {
    const procedures: InsufficientProcedure[] = ["reject", "partial", "wait"];
    const before = bench.sim.registers();
    const printsBefore = bench.sim.core.printsExecuted;
    const clients = Array.from({ length: 12 }, (_, c) => {
      const onInsufficient = procedures[c % 3] as InsufficientProcedure;
      const pieces = Array.from({ length: 4 }, (_, i) => piece(100 + 10 * c + i));
      const progress: BatchView[] = [];
      const run = async () => {
        try {
          const started = await service.startBatch(
            { meter: METER, pieces, requestId: `client-${c}`, onInsufficient, waitTimeoutMs: 8_000 },
            { onProgress: (v) => progress.push(v) },
          );
          return { started, end: await service.waitForEnd(started.batchId, 20_000) };
        } catch (e) {
          return { error: e };
        }
      };
      return { c, onInsufficient, pieces, progress, result: run() };
    });
    // While some wait, a refill frees funds for them.
    const waitersSeen = new Promise<void>((resolve) => {
      waitListener = (e) => {
        if (e.kind === "batch" && e.state === "waiting") resolve();
      };
    });
    await waitersSeen;
    const refill = await refills.refill({ meter: METER, amount: 3_000, requestId: "refill-1" });
    expect(refill.phase).toBe("applied");

    for (const cl of clients) {
      const r = await cl.result;
      if ("error" in r) {
        expect(isTermhostError(r.error, "POSTAGE_INSUFFICIENT_FUNDS")).toBe(true);
        const ctx = (r.error as { context: { shortfall: number; procedure: string } }).context;
        expect(ctx.shortfall).toBeGreaterThan(0);
        expect(ctx.procedure).toBe(cl.onInsufficient);
        continue;
      }
      expect(r.end.state).toBe("completed");
      expect(r.end.printedPieces).toBe(r.end.acceptedPieces);
      if (cl.onInsufficient !== "partial") expect(r.end.acceptedPieces).toBe(4);
      expect(r.end.consumed).toBe(cl.pieces.slice(0, r.end.acceptedPieces).reduce((s, p) => s + p.amount, 0));
      expect(r.end.released).toBe(0);
      expect(cl.progress.at(-1)?.state).toBe("completed");
      // The same request id again returns the same batch, never a second one.
      const again = await service.startBatch({
        meter: METER,
        pieces: cl.pieces,
        requestId: `client-${cl.c}`,
        onInsufficient: cl.onInsufficient,
      });
      expect(again.batchId).toBe(r.started.batchId);
    }
    const after = bench.sim.registers();
    expect(after.ascending + after.descending).toBe(after.controlTotal);
    expect(after.controlTotal - before.controlTotal).toBe(3_000);
    const funds = service.balance(METER);
    expect(funds).toMatchObject({ balance: after.descending, reserved: 0, unreserved: after.descending });
    const printed = after.pieceCount - before.pieceCount;
    expect(bench.sim.core.printsExecuted - printsBefore).toBe(printed);
    expect(events.some((e) => e.kind === "low-funds")).toBe(true);

    await service.stop();
    const audit = await auditJournal(bench.journalPath);
    expect(audit.violations).toEqual([]);
    expect(audit.printed).toHaveLength(printed);
    expect(new Set(audit.printed.map((p) => p.txnId)).size).toBe(printed);
    expect(new Set(audit.printed.map((p) => p.sequence)).size).toBe(printed);
    service = await openService(bench);
  });
});
