import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { refillTxnId } from "../../src/postage/batch/ids.js";
import { Command } from "../../src/postage/protocol/index.js";
import { waitUntil } from "../../src/util/wait.js";
import { TestPostgres } from "../support/postgres.js";
import { FleetKiosk, METER } from "./support/kiosk.js";

const piece = { amount: 100, currency: "EUR", class: 1, origin: "10115", destination: "80331" };
const refill = (requestId: string, amount: number) => ({
  meter: METER,
  amount,
  nextInspection: "2099-12-31",
  requestId,
});

/**
 * One kiosk through the faults that matter to its account: the database away while it prints and
 * restarts, a kill -9 with funds reserved but nothing sent, and one with the REFILL unanswered.
 */
describe("a fleet kiosk when the database or the kiosk goes away", () => {
  let pg: TestPostgres;
  let group: ProcessGroup;
  let kiosk: FleetKiosk;
  const dir = mkdtempSync(join(tmpdir(), "termhost-fleet-outage-"));
  const sql = async <T = Record<string, unknown>>(text: string, values: unknown[] = []) =>
    (await pg.query(text, values, "fleet")) as T[];
  const reservation = async (requestId: string) =>
    (
      await sql<{ state: string; sending_at: Date | null }>(
        "SELECT state, sending_at FROM fleet_reservation WHERE key = $1",
        [refillTxnId("PM200", requestId)],
      )
    )[0];

  beforeAll(async () => {
    pg = await TestPostgres.start();
    await pg.createDatabase("fleet");
    group = new ProcessGroup();
    kiosk = await FleetKiosk.start(group, {
      id: "kiosk-outage",
      dir: join(dir, "kiosk"),
      funds: 5000,
      serial: "PM200",
      database: { host: pg.socketDir, port: pg.port },
      fleet: { leaseMs: 2000 },
    });
    await waitUntil(
      "the fleet schema",
      async () => (await sql("SELECT to_regclass('fleet_account') AS t"))[0]?.t ?? undefined,
      15_000,
    );
    await sql("SELECT fleet_fund('fleet', 'EUR', 20000, 'opening')");
  });
  afterAll(async () => {
    await kiosk?.close();
    await group?.stopAll();
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints from the meter's funds while the database is down and through a restart; the ledger catches up once", async () => {
    await pg.stopImmediate();
    const batches: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = (await kiosk.call("postage.batch.start", {
        meter: METER,
        pieces: [piece, piece],
        requestId: `offline-${i}`,
        onInsufficient: "reject",
      })) as { batchId: string };
      batches.push(b.batchId);
      await waitUntil(
        "the batch",
        async () =>
          ((await kiosk.call("postage.batch.status", { batchId: b.batchId })) as { state: string }).state ===
          "completed"
            ? true
            : undefined,
        15_000,
      );
    }
    // A refill needs the account: refused at once with a typed error, nothing sent.
    const before = kiosk.sim.registers().controlTotal;
    expect(await kiosk.call("postage.refill", refill("offline-refill", 500))).toMatchObject({
      code: "FLEET_UNAVAILABLE",
    });
    expect(kiosk.sim.registers().controlTotal).toBe(before);
    // Killed and restarted while the database is still down: it starts, and its journal keeps the rows.
    await kiosk.kill();
    await kiosk.startDaemon();
    await pg.restart();
    const rows = await waitUntil(
      "the ledger to catch up",
      async () => {
        const r = await sql<{ tx_id: string }>("SELECT tx_id FROM fleet_ledger WHERE kind = 'batch'");
        return r.length >= 3 ? r : undefined;
      },
      20_000,
    );
    expect(rows.map((r) => r.tx_id).sort()).toEqual([...batches].sort());
  });

  it("killed with funds reserved and nothing sent: the lease gives them back, and the refill fails on restart", async () => {
    const before = kiosk.sim.registers().controlTotal;
    let reached!: () => void;
    const atRegisters = new Promise<void>((r) => {
      reached = r;
    });
    // The meter goes silent before the authorization: the reservation is made, nothing is sent.
    kiosk.sim.behaviours.unshift((req) => {
      if (req.command !== Command.GET_REGISTERS) return undefined;
      reached();
      return "ignore";
    });
    const pending = kiosk.call("postage.refill", refill("kill-reserved", 4000));
    await atRegisters;
    expect((await sql<{ reserved: string }>("SELECT reserved FROM fleet_account"))[0]?.reserved).toBe("4000");
    await kiosk.kill();
    await pending;
    kiosk.sim.behaviours.shift();
    await kiosk.startDaemon();
    const failed = await waitUntil(
      "the refill settled",
      async () => {
        const tx = (await kiosk.call("value.status", { requestId: "kill-reserved" })) as { state?: string };
        return tx.state === "failed" ? tx : undefined;
      },
      20_000,
    );
    expect(failed).toMatchObject({ state: "failed" });
    // The lease ran out or the failure voided it: either way never sent, and its funds are back.
    await waitUntil(
      "the funds back",
      async () => {
        await sql("SELECT fleet_expire('fleet')");
        const r = await sql<{ reserved: string }>("SELECT reserved FROM fleet_account");
        return r[0]?.reserved === "0" ? true : undefined;
      },
      20_000,
    );
    const r = await reservation("kill-reserved");
    expect(r?.sending_at ?? null).toBeNull();
    expect(["expired", "voided"]).toContain(r?.state);
    expect(kiosk.sim.registers().controlTotal).toBe(before);
  });

  it("killed with the REFILL unanswered: the restart resends it, the meter credits it once, and it is posted once", async () => {
    const [acct] = await sql<{ balance: string }>("SELECT balance FROM fleet_account");
    const before = kiosk.sim.registers().controlTotal;
    let reached!: () => void;
    const atRefill = new Promise<void>((r) => {
      reached = r;
    });
    kiosk.sim.behaviours.unshift((req) => {
      if (req.command !== Command.REFILL) return undefined;
      reached();
      return "ignore";
    });
    const pending = kiosk.call("postage.refill", refill("kill-sending", 1500));
    await atRefill;
    await kiosk.kill();
    await pending;
    kiosk.sim.behaviours.shift();
    // Longer than the lease: a reservation being sent no longer expires.
    await sql("SELECT pg_sleep(2.2)");
    await sql("SELECT fleet_expire('fleet')");
    await kiosk.startDaemon();
    await waitUntil(
      "the refill restored",
      async () => {
        const tx = (await kiosk.call("value.status", { requestId: "kill-sending" })) as { state?: string };
        return tx.state === "applied" ? tx : undefined;
      },
      20_000,
    );
    expect(kiosk.sim.registers().controlTotal).toBe(before + 1500);
    await waitUntil(
      "the posting",
      async () => ((await reservation("kill-sending"))?.state === "posted" ? true : undefined),
      20_000,
    );
    const [after] = await sql<{ balance: string; reserved: string }>(
      "SELECT balance, reserved FROM fleet_account",
    );
    expect(Number(acct?.balance) - Number(after?.balance)).toBe(1500);
    expect(after?.reserved).toBe("0");
  });
});
