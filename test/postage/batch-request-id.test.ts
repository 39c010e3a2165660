import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import type { PostageService, StartBatch } from "../../src/postage/postage-service.js";
import { METER, type MeterBench, openService, startMeterBench } from "./support/meter-bench.js";

const piece = (amount: number, origin = "10115"): PieceSpec => ({
  amount,
  currency: "EUR",
  class: 1,
  origin,
});

/**
 * A request id names one batch: resent with the same parameters it returns that batch, resent with
 * other parameters (another amount, class, origin, procedure, meter or piece count) it is refused, so
 * a client that changed its request never takes the first batch's indicia for the new one.
 */
describe("a batch request id resent with other parameters", () => {
  let bench: MeterBench;
  let service: PostageService;

  beforeAll(async () => {
    bench = await startMeterBench({ baud: 460_800, funds: 10_000 });
    service = await openService(bench);
  });
  afterAll(async () => {
    await service?.stop();
    await bench?.close();
  });

  const first: StartBatch = {
    meter: METER,
    pieces: [piece(100), piece(120)],
    requestId: "same-id",
    onInsufficient: "reject",
  };

  it("is refused with REQUEST_ID_CONFLICT; the same parameters still return the first batch", async () => {
    const started = await service.startBatch(first);
    const end = await service.waitForEnd(started.batchId, 10_000);
    expect(end.state).toBe("completed");
    const pieceCount = bench.sim.registers().pieceCount;

    const variants: StartBatch[] = [
      { ...first, pieces: [piece(100), piece(999)] },
      { ...first, pieces: [piece(100), { ...piece(120), class: 2 }] },
      { ...first, pieces: [piece(100), piece(120, "75001")] },
      { ...first, pieces: [{ ...piece(100), destination: "20095" }, piece(120)] },
      { ...first, onInsufficient: "partial" },
      { ...first, pieces: [piece(100)] },
    ];
    for (const v of variants) {
      let error: unknown;
      try {
        await service.startBatch(v);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(v.pieces)).toMatchObject({
        code: "REQUEST_ID_CONFLICT",
        context: { requestId: "same-id", batchId: started.batchId },
      });
      expect((error as { hint?: string }).hint).toMatch(/new request id/);
    }
    const again = await service.startBatch({ ...first, pieces: first.pieces.map((p) => ({ ...p })) });
    expect(again).toMatchObject({ batchId: started.batchId, state: "completed", printedPieces: 2 });
    expect(bench.sim.registers().pieceCount).toBe(pieceCount);
  });

  it("is refused while the first is still starting too", async () => {
    const p: StartBatch = { ...first, requestId: "racing-id", pieces: [piece(50)] };
    const a = service.startBatch(p);
    const b = service.startBatch({ ...p, pieces: [piece(51)] });
    await expect(b).rejects.toMatchObject({ code: "REQUEST_ID_CONFLICT" });
    const same = await service.startBatch({ ...p });
    expect(same.batchId).toBe((await a).batchId);
    await service.waitForEnd(same.batchId, 10_000);
  });
});
