import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { vendorAuthorize } from "../../simulators/meter/vendor.js";
import { refillTxnId } from "../../src/postage/batch/ids.js";
import type { PostageService } from "../../src/postage/postage-service.js";
import { ResultCode } from "../../src/postage/protocol/constants.js";
import { refusalPayload } from "../../src/postage/protocol/messages/result.js";
import { waitForEvent } from "../../src/util/wait.js";
import type { ValueTx } from "../../src/value/records.js";
import { METER, type MeterBench, openService, SERIAL, startMeterBench } from "./support/meter-bench.js";
import { openRefills, type Refills } from "./support/refills.js";

const INSPECTION = "2099-12-31";

/** The vendor's authorization at the meter's control total now (or `controlTotal`). */
function auth(requestId: string, amount: number, controlTotal = bench.sim.registers().controlTotal): string {
  return vendorAuthorize(TEST_VENDOR_KEY, SERIAL, {
    txnId: refillTxnId(SERIAL, requestId),
    amount,
    controlTotalBefore: controlTotal,
    nextInspection: INSPECTION,
  });
}

/**
 * Refills are value increases: they go through the value engine's authorize → journal → send →
 * restore steps, against a meter simulator on a real pty. Each interruption point is hit once and
 * the meter must credit exactly once.
 */
let bench: MeterBench;

describe("meter refills through the value engine, interrupted at every step", () => {
  let service: PostageService;
  let refills: Refills;
  let expected = 0;
  const amount = (n: number): number => 1000 + n;

  beforeAll(async () => {
    bench = await startMeterBench({ baud: 460_800, funds: 50_000 });
    service = await openService(bench);
    refills = await openRefills(service, bench.dir);
    expected = bench.sim.registers().controlTotal;
  });
  afterAll(async () => {
    await refills?.close();
    await service?.stop();
    await bench?.close();
  });

  const refill = (n: number, waitMs = 10_000): Promise<ValueTx> =>
    refills.refill({
      meter: METER,
      amount: amount(n),
      requestId: `rf-${n}`,
      authorization: auth(`rf-${n}`, amount(n)),
      waitMs,
    });

  /** A daemon restart: the engine and its journal are opened again over the same files. */
  async function restart(): Promise<void> {
    await refills.close();
    refills = await openRefills(service, bench.dir);
  }

  /** Journals the steps a run reached before it died, as the engine writes them. */
  async function journalUpTo(n: number, phase: "requested" | "authorizing" | "authorized"): Promise<string> {
    const txId = `vtx-crash-${n}`;
    const at = new Date().toISOString();
    const r = bench.sim.registers();
    const j = refills.journal;
    await j.append("value.requested", {
      txId,
      requestId: `rf-${n}`,
      kind: "refill",
      reader: METER,
      amount: amount(n),
      currency: 978,
      at,
    });
    if (phase === "requested") return txId;
    await j.append("value.authorizing", {
      txId,
      cardId: SERIAL,
      counter: r.controlTotal,
      balanceBefore: r.descending,
      at,
    });
    if (phase === "authorizing") return txId;
    await j.append("value.authorized", {
      txId,
      authorizationId: n,
      message: {
        txnId: refillTxnId(SERIAL, `rf-${n}`),
        amount: amount(n),
        nextInspection: INSPECTION,
        authorization: auth(`rf-${n}`, amount(n)),
      },
      at,
    });
    return txId;
  }

  it("applies a refill and journals each step before the next", async () => {
    const steps: string[] = [];
    refills.engine.on("transaction", (tx, step) => {
      if (tx.requestId === "rf-0") steps.push(step);
    });
    const tx = await refill(0);
    expect(tx).toMatchObject({ kind: "refill", phase: "applied", cardId: SERIAL, restored: null });
    expect(steps).toEqual(["value.requested", "value.authorizing", "value.authorized", "value.applied"]);
    expected += amount(0);
    expect(bench.sim.registers().controlTotal).toBe(expected);
    expect(service.balance(METER).balance).toBe(bench.sim.registers().descending);
  });

  it("the meter loses power after its pending credit is durable: finished at power-up, once", async () => {
    bench.sim.tearNextRefill();
    const down = waitForEvent(service.driver(METER), "down", () => true, 10_000);
    const torn = refill(1);
    await down;
    bench.sim.powerOn();
    expect((await torn).phase).toBe("applied");
    expected += amount(1);
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("the answer is lost after the meter applied it: restore finds it applied", async () => {
    bench.sim.behaviours.unshift((req) => {
      if (req.command !== 0x05) return undefined;
      bench.sim.cutCableAt(8);
      bench.sim.behaviours.shift();
      return undefined;
    });
    const down = waitForEvent(service.driver(METER), "down", () => true, 10_000);
    const lost = refill(2);
    await down;
    bench.sim.restoreCable();
    const tx = await lost;
    expect(tx.phase).toBe("applied");
    expected += amount(2);
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("the request never reaches the meter: restore resends it", async () => {
    bench.sim.behaviours.unshift((req) => {
      if (req.command !== 0x05) return undefined;
      bench.sim.cutCableAt(0);
      bench.sim.behaviours.shift();
      return "ignore";
    });
    const down = waitForEvent(service.driver(METER), "down", () => true, 10_000);
    const unsent = refill(3);
    await down;
    bench.sim.restoreCable();
    const tx = await unsent;
    expect(tx).toMatchObject({ phase: "applied", restored: "resent" });
    expected += amount(3);
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("the daemon dies after the restore record, before REFILL: the restart sends it once", async () => {
    const txId = await journalUpTo(4, "authorized");
    await restart();
    const tx = await refills.engine.settled(txId, 10_000);
    expect(tx).toMatchObject({ phase: "applied", restored: "resent" });
    expected += amount(4);
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("the daemon dies after the meter applied it, before journaling: the restart finds it applied", async () => {
    const txId = await journalUpTo(5, "authorized");
    await refills.close();
    await service.driver(METER).refill({
      txnId: refillTxnId(SERIAL, "rf-5"),
      amount: amount(5),
      controlTotalBefore: bench.sim.registers().controlTotal,
      nextInspection: INSPECTION,
      authorization: auth("rf-5", amount(5)),
    });
    refills = await openRefills(service, bench.dir);
    const tx = await refills.engine.settled(txId, 10_000);
    expect(tx).toMatchObject({ phase: "applied", restored: "already-applied" });
    expected += amount(5);
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("the daemon dies before the restore record: the refill ends failed and the meter is not credited", async () => {
    const requested = await journalUpTo(6, "requested");
    const authorizing = await journalUpTo(7, "authorizing");
    await restart();
    for (const txId of [requested, authorizing]) {
      const tx = await refills.engine.settled(txId, 10_000);
      expect(tx).toMatchObject({ phase: "failed", error: { code: "INTERRUPTED" } });
    }
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("a forged authorization is refused by the meter: failed, reversal recorded, nothing credited", async () => {
    const tx = await refills.refill({
      meter: METER,
      amount: 999,
      requestId: "rf-forged",
      authorization: "00".repeat(16),
    });
    expect(tx).toMatchObject({ phase: "failed", error: { code: "METER_REFUSED" } });
    expect(tx.reversal).toMatchObject({ reported: true });
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });

  it("sending every request id again credits nothing more; the meter applied each transaction id once", async () => {
    for (const n of [0, 1, 2, 3, 4, 5]) {
      const tx = await refill(n);
      expect(tx.phase).toBe("applied");
    }
    expect(bench.sim.registers().controlTotal).toBe(expected);
    const r = bench.sim.registers();
    expect(r.ascending + r.descending).toBe(r.controlTotal);
    const applied = bench.sim.state().recent.filter((t) => t.kind === "refill");
    const ids = applied.map((t) => (t.kind === "refill" ? t.txnId : ""));
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(6);
  });

  it("the meter is still finishing a refill of its own: the refill waits, is sent again and credited once", async () => {
    let pendingAnswers = 0;
    bench.sim.behaviours.unshift((req) => {
      if (req.command !== 0x05) return undefined;
      if (++pendingAnswers === 2) bench.sim.behaviours.shift();
      return refusalPayload(ResultCode.REFILL_PENDING);
    });
    const tx = await refill(8);
    expect(pendingAnswers).toBe(2);
    expect(tx).toMatchObject({ phase: "applied", restored: "resent", reversal: null });
    expected += amount(8);
    expect(bench.sim.registers().controlTotal).toBe(expected);
  });
});
