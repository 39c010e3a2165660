import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MeterSimulator } from "../../simulators/meter/meter-simulator.js";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { Rig } from "../../simulators/rig/rig.js";
import { ValueMethods } from "../../src/api/schemas/value.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { Command } from "../../src/postage/protocol/index.js";
import { waitUntil } from "../../src/util/wait.js";
import { Prng } from "../pcsc/support/prng.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { SIMULATED_METER, startSimulatedMeter } from "../support/meter.js";

const METER = SIMULATED_METER;
const SEED = Number(process.env.TERMHOST_SEED ?? 20_261_124);
const KILLS = process.env.TERMHOST_LONG === "1" ? 40 : 8;

/**
 * termhostd killed with SIGKILL while a refill is in flight, at the two moments that matter (the
 * meter never saw the REFILL; the meter applied it and the answer was lost) and at random moments:
 * after a restart the value engine restores each refill, and the meter credits it exactly once.
 */
describe("refills survive kill -9 of the daemon", () => {
  let rig: Rig;
  let group: ProcessGroup;
  let sim: MeterSimulator;
  let overrides: Record<string, unknown>;
  const rng = new Prng(SEED);

  beforeAll(async () => {
    rig = await Rig.start();
    group = new ProcessGroup();
    const meter = await startSimulatedMeter(group, rig.dir, 1_000);
    sim = meter.sim;
    overrides = { postage: meter.postageConfig };
  });
  afterAll(async () => {
    await sim?.close();
    await group?.stopAll();
    await rig?.stop();
  });

  async function connected(daemon: TestDaemon): Promise<RpcClient> {
    const client = await RpcClient.connect(daemon.socketPath);
    await waitUntil(
      "the meter",
      async () =>
        ((await client.call("postage.balance", { meter: METER })) as { connected: boolean }).connected ||
        undefined,
      15_000,
    );
    return client;
  }

  const refill = (client: RpcClient, requestId: string, amount: number) =>
    client
      .call("postage.refill", { meter: METER, amount, nextInspection: "2099-12-31", requestId }, 30_000)
      .catch((e: unknown) => e);

  /**
   * Restarts the daemon and waits for the refill to be settled by the engine; `undefined` when the
   * daemon died before it journaled the request (then nothing was sent either).
   */
  async function settledAfterRestart(requestId: string) {
    const daemon = await startDaemon(rig, overrides);
    const client = await connected(daemon);
    try {
      return await waitUntil(
        `refill ${requestId} settled`,
        async () => {
          const answer = await client.call("value.status", { requestId }).catch((e: unknown) => e);
          if (isTermhostError(answer, "TRANSACTION_NOT_FOUND")) return { state: "none" as const };
          const tx = ValueMethods["value.status"].result.parse(answer);
          return tx.state === "applied" || tx.state === "failed" ? tx : undefined;
        },
        20_000,
      );
    } finally {
      client.close();
      await daemon.stop();
    }
  }

  async function killOnRefill(apply: boolean, requestId: string, amount: number): Promise<void> {
    const daemon = await startDaemon(rig, overrides);
    const client = await connected(daemon);
    let seen!: () => void;
    const reached = new Promise<void>((r) => {
      seen = r;
    });
    sim.behaviours.unshift((req) => {
      if (req.command !== Command.REFILL) return undefined;
      if (apply) sim.core.handle(req.command, req.payload);
      seen();
      return "ignore";
    });
    const pending = refill(client, requestId, amount);
    await reached;
    process.kill(daemon.process.pid, "SIGKILL");
    await daemon.process.exited;
    sim.behaviours.shift();
    await pending;
    client.close();
  }

  it("killed while the meter never answered the REFILL: the restart resends it, credited once", async () => {
    const before = sim.registers().controlTotal;
    await killOnRefill(false, "kill-unsent", 700);
    expect(sim.registers().controlTotal).toBe(before);
    const tx = await settledAfterRestart("kill-unsent");
    expect(tx).toMatchObject({ kind: "refill", state: "applied", restored: "resent" });
    expect(sim.registers().controlTotal).toBe(before + 700);
  });

  it("killed after the meter applied the REFILL, before its answer: the restart finds it applied", async () => {
    const before = sim.registers().controlTotal;
    await killOnRefill(true, "kill-applied", 900);
    expect(sim.registers().controlTotal).toBe(before + 900);
    const tx = await settledAfterRestart("kill-applied");
    expect(tx).toMatchObject({ kind: "refill", state: "applied", restored: "already-applied" });
    expect(sim.registers().controlTotal).toBe(before + 900);
  });

  it(`killed at ${KILLS} random moments of a refill: each is applied once or failed with nothing credited`, async () => {
    const before = sim.registers().controlTotal;
    let applied = 0;
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < KILLS; i++) {
      const daemon = await startDaemon(rig, overrides);
      const client = await connected(daemon);
      const amount = 100 + rng.int(900);
      const pending = refill(client, `kill-${i}`, amount);
      await new Promise((r) => setTimeout(r, rng.int(40)));
      process.kill(daemon.process.pid, "SIGKILL");
      await daemon.process.exited;
      await pending;
      client.close();
      const tx = await settledAfterRestart(`kill-${i}`);
      const outcome = tx.state === "applied" ? `applied ${tx.restored ?? "directly"}` : tx.state;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (tx.state === "none") continue; // killed before the request was journaled: nothing sent
      if (tx.state === "applied") applied += amount;
      else expect(tx.error?.code).toMatch(/^[A-Z_]+$/);
    }
    console.log(`refill kill -9 outcomes: ${JSON.stringify(outcomes)}`);
    // The seeded moments reach the restore path, not only requests killed before they began.
    expect(Object.keys(outcomes).some((o) => o.startsWith("applied"))).toBe(true);
    const r = sim.registers();
    expect(r.controlTotal).toBe(before + applied);
    expect(r.ascending + r.descending).toBe(r.controlTotal);
    const ids = sim
      .state()
      .recent.filter((t) => t.kind === "refill")
      .map((t) => (t.kind === "refill" ? t.txnId : ""));
    expect(new Set(ids).size).toBe(ids.length);
  });
});
