import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MeterSimulator, startMeterSimulator } from "../../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState, TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { Rig } from "../../simulators/rig/rig.js";
import { BatchResult } from "../../src/api/schemas/postage.js";
import type { ValueTransaction } from "../../src/api/schemas/value.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { cardFile, purseSpec, samLedger, samSpec } from "../value/support.js";

const METER = "termhost simulated meter";
const CARD = "5151515151515151";

/**
 * SIGTERM while a load and while a batch are in flight: the daemon exits 0 within its deadline,
 * and the next start finds nothing lost.
 */
describe("graceful stop during value-moving work", () => {
  let rig: Rig;
  let meter: MeterSimulator;
  let dir: string;
  let reader: string;
  let overrides: Record<string, unknown>;
  let printedSoFar = 0;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-sigterm-"));
    rig = await Rig.start({
      slots: [
        { card: purseSpec(dir, CARD), inserted: true },
        { card: samSpec(dir), inserted: true },
      ],
    });
    reader = rig.readerNames[0] as string;
    const pty = await rig.ptyPair("meter");
    const stateFile = join(rig.dir, "meter.json");
    const registers = {
      ...freshMeterState().registers,
      descending: 50_000,
      controlTotal: 50_000,
      serial: "PM0077",
    };
    saveMeterState(stateFile, freshMeterState({ serial: "PM0077", registers }));
    // A slow line, so that a batch is surely in the middle when the signal comes.
    meter = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: 9600 });
    overrides = {
      postage: {
        meters: [{ profile: METER, port: pty.hostPath, baudRate: 9600, vendorKey: TEST_VENDOR_KEY }],
      },
    };
  });
  afterAll(async () => {
    await meter?.close();
    await rig?.stop();
  });

  async function stopAndTime(
    daemon: TestDaemon,
    signal: NodeJS.Signals = "SIGTERM",
  ): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    process.kill(daemon.process.pid, signal);
    const { code } = await daemon.process.exited;
    return { code, ms: Date.now() - t0 };
  }

  it("a load: exit 0 in time, and after restart the load is applied once or failed with nothing credited", async () => {
    const daemon = await startDaemon(rig, overrides);
    const client = await RpcClient.connect(daemon.socketPath);
    await waitUntil(
      "card and SAM",
      async () =>
        ((await client.call("system.status")) as { readers: Array<{ card: string }> }).readers.filter(
          (r) => r.card === "present",
        ).length === 2
          ? true
          : undefined,
      10_000,
    );
    const before = cardFile(dir, CARD);
    const load = client
      .call("value.increase", { reader, amount: 640, currency: "EUR", requestId: "term-1" })
      .catch((e: unknown) => e);
    // The signal lands while the load's APDUs are on their way.
    await new Promise((r) => setImmediate(r));
    const stopped = await stopAndTime(daemon);
    await load;
    client.close();
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(20_000);

    const again = await startDaemon(rig, overrides);
    const c2 = await RpcClient.connect(again.socketPath);
    const final = await waitUntil(
      "the load to be final after restart",
      async () => {
        const tx = (await c2
          .call("value.increase", { reader, amount: 640, currency: "EUR", requestId: "term-1" })
          .catch(() => undefined)) as ValueTransaction | undefined;
        return tx !== undefined && (tx.state === "applied" || tx.state === "failed") ? tx : undefined;
      },
      15_000,
      100,
    );
    const after = cardFile(dir, CARD);
    if (final.state === "applied") {
      expect(after).toMatchObject({ balance: before.balance + 640, counter: before.counter + 1 });
    } else {
      expect(after).toEqual(expect.objectContaining(before));
    }
    expect(samLedger(dir).filter((e) => e.status === "issued")).toEqual([]);
    c2.close();
    await again.stop();
  });

  it.each(["SIGTERM", "SIGKILL"] as const)(
    "a batch, %s: after restart the batch is ended with exact counts and the registers add up",
    async (signal) => {
      const daemon = await startDaemon(rig, overrides);
      const client = await RpcClient.connect(daemon.socketPath);
      await waitUntil(
        "the meter",
        async () =>
          ((await client.call("postage.balance", { meter: METER })) as { connected: boolean }).connected ||
          undefined,
        15_000,
      );
      const requestId = `term-batch-${signal}`;
      let printed = 0;
      client.on("notification", (method) => {
        if (method === "postage.batch.progress") printed++;
      });
      const pieces = Array.from({ length: 30 }, () => ({
        amount: 55,
        currency: "EUR",
        class: 1,
        origin: "10115",
      }));
      const batch = client
        .call("postage.batch.start", { meter: METER, pieces, requestId }, 60_000)
        .catch((e: unknown) => e);
      await waitUntil("two indicia printed", () => (printed >= 2 ? true : undefined), 20_000, 10);
      const stopped = await stopAndTime(daemon, signal);
      await batch;
      client.close();
      // A graceful stop exits 0 within its deadline; a kill is the crash the journal must survive.
      if (signal === "SIGTERM") {
        expect(stopped.code).toBe(0);
        expect(stopped.ms).toBeLessThan(20_000);
      }

      const again = await startDaemon(rig, overrides);
      const c2 = await RpcClient.connect(again.socketPath);
      const result = BatchResult.parse(
        await waitUntil(
          "the batch's final state",
          async () => {
            const b = (await c2.call("postage.batch.status", { requestId }).catch(() => undefined)) as
              | { state: string }
              | undefined;
            return b !== undefined && ["completed", "interrupted", "cancelled", "failed"].includes(b.state)
              ? b
              : undefined;
          },
          20_000,
          100,
        ),
      );
      expect(["interrupted", "completed"]).toContain(result.state);
      expect(result.printedPieces).toBeGreaterThanOrEqual(2);
      expect(result.indicia).toHaveLength(result.printedPieces);
      const r = meter.registers();
      expect(r.ascending + r.descending).toBe(r.controlTotal);
      // Counts accumulate over both runs of this test: the journal's batches must account for all.
      printedSoFar += result.printedPieces;
      expect(r.pieceCount).toBe(printedSoFar);
      expect(r.ascending).toBe(printedSoFar * 55);
      c2.close();
      await again.stop();
    },
  );
});
