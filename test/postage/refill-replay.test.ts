import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { vendorAuthorize } from "../../simulators/meter/vendor.js";
import { refillTxnId } from "../../src/postage/batch/ids.js";
import type { PieceSpec } from "../../src/postage/ledger/records.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { METER, type MeterBench, openService, SERIAL, startMeterBench } from "./support/meter-bench.js";
import { openRefills, openValueJournal, type Refills } from "./support/refills.js";

const INSPECTION = "2099-12-31";
const piece: PieceSpec = { amount: 1, currency: "EUR", class: 1, origin: "10115" };

/**
 * A refill's authorization binds the meter's control total before it, so it can be applied only
 * while the meter is at that total: once applied, the same authorization is void at the meter
 * itself, whatever the value ledger and the meter's print memory still hold.
 */
describe("a refill replayed after the ledger and the meter's print memory forgot it", () => {
  let bench: MeterBench;
  let service: PostageService;
  const dirs: string[] = [];

  beforeAll(async () => {
    bench = await startMeterBench({ baud: 460_800, funds: 50_000 });
    service = await openService(bench);
  });
  afterAll(async () => {
    await service?.stop();
    await bench?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** The vendor's authorization for this refill at the meter's current control total. */
  function vendorAuth(requestId: string, amount: number, controlTotal: number): string {
    return vendorAuthorize(TEST_VENDOR_KEY, SERIAL, {
      txnId: refillTxnId(SERIAL, requestId),
      amount,
      controlTotalBefore: controlTotal,
      nextInspection: INSPECTION,
    });
  }

  /** A value journal of its own: a daemon whose retention has forgotten every earlier refill. */
  function freshValueDir(): string {
    const d = mkdtempSync(join(tmpdir(), "value-"));
    dirs.push(d);
    return d;
  }

  /** The value journal of a daemon that died after the restore record of this refill. */
  async function journalAuthorized(
    dir: string,
    requestId: string,
    amount: number,
    t: number,
    authorization: string,
  ): Promise<string> {
    const j = await openValueJournal(dir);
    const at = new Date().toISOString();
    const txId = `vtx-${requestId}`;
    await j.append("value.requested", {
      txId,
      requestId,
      kind: "refill",
      reader: METER,
      amount,
      currency: 978,
      at,
    });
    await j.append("value.authorizing", {
      txId,
      cardId: SERIAL,
      counter: t,
      balanceBefore: bench.sim.registers().descending,
      at,
    });
    await j.append("value.authorized", {
      txId,
      authorizationId: 1,
      message: { txnId: refillTxnId(SERIAL, requestId), amount, nextInspection: INSPECTION, authorization },
      at,
    });
    await j.close();
    return txId;
  }

  async function print64(requestId: string): Promise<void> {
    const started = await service.startBatch({
      meter: METER,
      pieces: Array.from({ length: 64 }, () => piece),
      requestId,
      onInsufficient: "reject",
    });
    expect((await service.waitForEnd(started.batchId, 30_000)).state).toBe("completed");
  }

  it("the same request id and authorization again: refused by the meter, credited once", async () => {
    const t = bench.sim.registers().controlTotal;
    const authorization = vendorAuth("rf-replay", 2_500, t);
    const first: Refills = await openRefills(service, freshValueDir());
    const tx = await first.refill({ meter: METER, amount: 2_500, requestId: "rf-replay", authorization });
    expect(tx.phase).toBe("applied");
    await first.close();
    expect(bench.sim.registers().controlTotal).toBe(t + 2_500);

    await print64("push-out-1");
    const later: Refills = await openRefills(service, freshValueDir());
    try {
      const replay = await later.refill({
        meter: METER,
        amount: 2_500,
        requestId: "rf-replay",
        authorization,
      });
      expect(replay).toMatchObject({ phase: "failed", error: { code: "METER_REFUSED" } });
    } finally {
      await later.close();
    }
    const r = bench.sim.registers();
    expect(r.controlTotal).toBe(t + 2_500);
    expect(r.ascending + r.descending).toBe(r.controlTotal);
  });

  it("applied, the answer lost, 64 prints before restore: restore finds it applied and credits nothing more", async () => {
    const t = bench.sim.registers().controlTotal;
    const requestId = "rf-lost-then-prints";
    const amount = 1_700;
    const authorization = vendorAuth(requestId, amount, t);
    const txnId = refillTxnId(SERIAL, requestId);
    const dir = freshValueDir();
    // The daemon journaled the restore record and sent REFILL; the meter applied it; the daemon died.
    const txId = await journalAuthorized(dir, requestId, amount, t, authorization);
    await service
      .driver(METER)
      .refill({ txnId, amount, controlTotalBefore: t, nextInspection: INSPECTION, authorization });
    expect(bench.sim.registers().controlTotal).toBe(t + amount);

    // Batches go on before the value engine restores it: the refill is far behind the last transaction.
    await print64("push-out-2");
    const restarted = await openRefills(service, dir);
    try {
      const tx = await restarted.engine.settled(txId, 10_000);
      expect(tx).toMatchObject({ phase: "applied", restored: "already-applied" });
    } finally {
      await restarted.close();
    }
    expect(bench.sim.registers().controlTotal).toBe(t + amount);
  });

  it("another refill moved the control total before restore: this one is stale, never credited", async () => {
    const t = bench.sim.registers().controlTotal;
    const dir = freshValueDir();
    const txId = await journalAuthorized(dir, "rf-overtaken", 900, t, vendorAuth("rf-overtaken", 900, t));
    // Someone else's refill at the same control total lands first (the meter's vendor contact, say).
    const otherTxn = refillTxnId(SERIAL, "someone-else");
    const other = { txnId: otherTxn, amount: 400, controlTotalBefore: t, nextInspection: INSPECTION };
    await service.driver(METER).refill({ ...other, authorization: vendorAuth("someone-else", 400, t) });
    const restarted = await openRefills(service, dir);
    try {
      const tx = await restarted.engine.settled(txId, 10_000);
      expect(tx).toMatchObject({ phase: "failed", error: { code: "VALUE_REFUSED" } });
      expect(tx?.error?.message).toMatch(/control total moved/);
    } finally {
      await restarted.close();
    }
    expect(bench.sim.registers().controlTotal).toBe(t + 400);
  });
});
