import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MeterSimulator, startMeterSimulator } from "../../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState, TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { Rig } from "../../simulators/rig/rig.js";
import { startPtyPair } from "../../simulators/rig/socat.js";
import { BatchResult, PostageMethods } from "../../src/api/schemas/postage.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

const METER = "termhost simulated meter";

describe("postage over the daemon's socket", () => {
  let rig: Rig;
  let group: ProcessGroup;
  let sim: MeterSimulator;
  let daemon: TestDaemon;

  beforeAll(async () => {
    rig = await Rig.start();
    group = new ProcessGroup();
    const pty = await startPtyPair(group, rig.dir, "meter");
    const stateFile = `${rig.dir}/meter.json`;
    const registers = {
      ...freshMeterState().registers,
      descending: 4_000,
      controlTotal: 4_000,
      serial: "PM0042",
    };
    saveMeterState(stateFile, freshMeterState({ serial: "PM0042", registers }));
    sim = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: 115_200 });
    daemon = await startDaemon(rig, {
      postage: {
        meters: [{ profile: METER, port: pty.hostPath, baudRate: 115_200, vendorKey: TEST_VENDOR_KEY }],
        ackMarginMs: 30,
        responseMarginMs: 100,
        backoffInitialMs: 10,
      },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await sim?.close();
    await group?.stopAll();
    await rig?.stop();
  });

  it("eight socket clients start batches at once; each gets its indicia (with progress) or a typed shortfall", async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => RpcClient.connect(daemon.socketPath)));
    try {
      // The daemon serves before its meter line is up: the balance says when it is connected.
      const first = await waitUntil(
        "the meter to be connected",
        async () => {
          const b = (await clients[0]?.call("postage.balance", { meter: METER })) as { connected: boolean };
          return b.connected ? b : undefined;
        },
        15_000,
      );
      expect(first).toMatchObject({ balance: 4_000, reserved: 0, unreserved: 4_000, connected: true });
      expect(
        PostageMethods["postage.meters"].result.parse(await clients[0]?.call("postage.meters", {})),
      ).toEqual({
        meters: [first],
      });
      const outcomes = await Promise.all(
        clients.map(async (c, i) => {
          const progress: unknown[] = [];
          c.on("notification", (method, params) => {
            if (method === "postage.batch.progress") progress.push(params);
          });
          const pieces = Array.from({ length: 5 }, () => ({
            amount: 100,
            currency: "EUR",
            class: 1,
            origin: "10115",
          }));
          try {
            const started = BatchResult.parse(
              await c.call("postage.batch.start", {
                meter: METER,
                pieces,
                requestId: `sock-${i}`,
                onInsufficient: "reject",
              }),
            );
            const end = BatchResult.parse(
              await c.call("postage.batch.status", { batchId: started.batchId, waitMs: 20_000 }, 25_000),
            );
            return { end, progress };
          } catch (e) {
            return { error: e };
          }
        }),
      );
      const done = outcomes.filter((o) => "end" in o);
      const refused = outcomes.filter((o) => "error" in o);
      // 4,000 funds, 500 per batch: exactly eight fit.
      expect(done).toHaveLength(8);
      expect(refused).toHaveLength(0);
      for (const o of done) {
        if (!("end" in o) || o.progress === undefined) continue;
        expect(o.end).toMatchObject({ state: "completed", printedPieces: 5, consumed: 500 });
        expect(o.progress.length).toBeGreaterThan(0);
      }
      const ninth = await clients[0]
        ?.call("postage.batch.start", {
          meter: METER,
          pieces: [{ amount: 100, currency: "EUR", class: 1, origin: "10115" }],
          requestId: "sock-9",
        })
        .catch((e: unknown) => e);
      expect(isTermhostError(ninth, "POSTAGE_INSUFFICIENT_FUNDS")).toBe(true);
      expect((ninth as { context: { shortfall: number } }).context.shortfall).toBe(100);

      const refill = PostageMethods["postage.refill"].result.parse(
        await clients[1]?.call("postage.refill", {
          meter: METER,
          amount: 1_000,
          nextInspection: "2099-12-31",
          requestId: "sock-refill",
        }),
      );
      expect(refill.state).toBe("applied");
      const balance = await clients[2]?.call("postage.balance", { meter: METER });
      expect(balance).toMatchObject({ balance: 1_000, reserved: 0, unreserved: 1_000 });
      const r = sim.registers();
      expect(r.ascending + r.descending).toBe(r.controlTotal);
      expect(r.pieceCount).toBe(40);
      const bad = await clients[3]
        ?.call("postage.batch.start", {
          meter: METER,
          pieces: [{ amount: 1.5, currency: "EUR", class: 1, origin: "x" }],
          requestId: "bad",
        })
        .catch((e: unknown) => e);
      expect(isTermhostError(bad, "INVALID_PARAMS")).toBe(true);

      // A refill's own checks come before the value engine: nothing is journaled or sent for them.
      const refillError = (params: Record<string, unknown>, requestId: string): Promise<unknown> =>
        (clients[4] as RpcClient)
          .call("postage.refill", { meter: METER, nextInspection: "2099-12-31", requestId, ...params })
          .catch((e: unknown) => e);
      const controlTotal = sim.registers().controlTotal;
      expect(await refillError({ amount: 100, currency: "USD" }, "rf-usd")).toMatchObject({
        code: "VALUE_REFUSED",
        context: { meterCurrency: "EUR", currency: "USD" },
      });
      // postage.maxRefillAmount, 500,000 by default.
      expect(await refillError({ amount: 500_001 }, "rf-big")).toMatchObject({
        code: "LIMIT_EXCEEDED",
        context: { limit: 500_000 },
      });
      expect(await refillError({ amount: 0 }, "rf-zero")).toMatchObject({ code: "INVALID_PARAMS" });
      for (const requestId of ["rf-usd", "rf-big", "rf-zero"])
        expect(
          await (clients[4] as RpcClient).call("value.status", { requestId }).catch((e: unknown) => e),
        ).toMatchObject({ code: "TRANSACTION_NOT_FOUND" });
      expect(sim.registers().controlTotal).toBe(controlTotal);
      const inEuro = await clients[4]?.call("postage.refill", {
        meter: METER,
        amount: 500_000,
        currency: "EUR",
        nextInspection: "2099-12-31",
        requestId: "rf-eur",
      });
      expect(inEuro).toMatchObject({ state: "applied", controlTotalAfter: controlTotal + 500_000 });
    } finally {
      for (const c of clients) c.close();
    }
  });
});
