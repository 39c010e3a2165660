import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { waitUntil } from "../../src/util/wait.js";
import { TestPostgres } from "../support/postgres.js";
import { FleetKiosk, METER } from "./support/kiosk.js";

const piece = { amount: 100, currency: "EUR", class: 1, origin: "10115", destination: "80331" };

/** Kiosks as real termhostd processes refilling their meters from one account on a real PostgreSQL. */
describe("kiosks sharing one fleet account", () => {
  let pg: TestPostgres;
  let group: ProcessGroup;
  const kiosks: FleetKiosk[] = [];
  const dir = mkdtempSync(join(tmpdir(), "termhost-fleet-"));

  const sql = async <T = Record<string, unknown>>(text: string, values: unknown[] = []) =>
    (await pg.query(text, values, "fleet")) as T[];

  beforeAll(async () => {
    pg = await TestPostgres.start();
    await pg.createDatabase("fleet");
    group = new ProcessGroup();
    const fleets = [
      {},
      { autoRefill: { floor: 500, amount: 2000 }, onInsufficient: "partial" },
      { onInsufficient: "wait", waitMs: 20_000 },
    ];
    for (const [i, fleet] of fleets.entries())
      kiosks.push(
        await FleetKiosk.start(group, {
          id: `kiosk-${i}`,
          dir: join(dir, `kiosk-${i}`),
          funds: 1000,
          serial: `PM10${i}`,
          database: { host: pg.socketDir, port: pg.port },
          fleet,
        }),
      );
    await waitUntil(
      "the fleet schema",
      async () => (await sql("SELECT to_regclass('fleet_account') AS t"))[0]?.t ?? undefined,
      15_000,
    );
    await sql("SELECT fleet_fund('fleet', 'EUR', 10000, 'opening')");
  });
  afterAll(async () => {
    for (const k of kiosks) await k.close();
    await group?.stopAll();
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const account = async () =>
    (await sql<{ balance: string; reserved: string }>("SELECT balance, reserved FROM fleet_account"))[0];

  it("a refill reserves at the account, is credited once, and is posted by what the meter took", async () => {
    const k = kiosks[0] as FleetKiosk;
    const answer = await k.call("postage.refill", {
      meter: METER,
      amount: 3000,
      nextInspection: "2099-12-31",
      requestId: "fleet-refill-1",
    });
    expect(answer).toMatchObject({ state: "applied", amount: 3000 });
    expect(k.sim.registers().controlTotal).toBe(4000);
    await waitUntil(
      "the posting",
      async () => ((await account())?.balance === "7000" ? true : undefined),
      10_000,
    );
    expect(await account()).toEqual({ balance: "7000", reserved: "0" });
    const rows = await sql("SELECT kind, state, amount FROM fleet_ledger WHERE kiosk_id = 'kiosk-0'");
    expect(rows).toEqual([{ kind: "refill", state: "applied", amount: "3000" }]);
  });

  it("a refill the account cannot cover is refused with the procedure's error, and nothing is sent", async () => {
    const k = kiosks[0] as FleetKiosk;
    const answer = await k.call("postage.refill", {
      meter: METER,
      amount: 9000,
      nextInspection: "2099-12-31",
      requestId: "fleet-refill-2",
    });
    expect(isTermhostError(answer)).toBe(true);
    expect(answer).toMatchObject({
      code: "FLEET_INSUFFICIENT_FUNDS",
      context: { needed: 9000, unreserved: 7000 },
    });
    expect(k.sim.registers().controlTotal).toBe(4000);
  });

  it("a batch larger than what the meter holds refills it from the account by itself", async () => {
    const k = kiosks[1] as FleetKiosk;
    const answer = (await k.call("postage.batch.start", {
      meter: METER,
      pieces: Array.from({ length: 15 }, () => piece),
      requestId: "big-batch",
      onInsufficient: "reject",
    })) as { batchId: string };
    expect(answer).toMatchObject({ acceptedPieces: 15 });
    await waitUntil(
      "the batch",
      async () => {
        const s = (await k.call("postage.batch.status", { batchId: answer.batchId })) as { state: string };
        return s.state === "completed" ? s : undefined;
      },
      20_000,
    );
    await waitUntil(
      "the batch and the refill in the ledger",
      async () => {
        const rows = await sql<{ kind: string }>("SELECT kind FROM fleet_ledger WHERE kiosk_id = 'kiosk-1'");
        return rows.some((r) => r.kind === "batch") && rows.some((r) => r.kind === "refill")
          ? rows
          : undefined;
      },
      10_000,
    );
    const posted = await sql<{ posted: string }>(
      "SELECT sum(posted) AS posted FROM fleet_reservation WHERE state = 'posted'",
    );
    const acct = await account();
    expect(Number(acct?.balance) + Number(posted[0]?.posted)).toBe(10000);
  });

  it("'wait' holds a refill until the account can cover it, then grants it whole", async () => {
    const k = kiosks[2] as FleetKiosk;
    const before = k.sim.registers().controlTotal;
    const acct = await account();
    const ask = Number(acct?.balance) - Number(acct?.reserved) + 1000;
    const pending = k.call("postage.refill", {
      meter: METER,
      amount: ask,
      nextInspection: "2099-12-31",
      requestId: "fleet-wait-1",
    });
    await waitUntil(
      "the refill to wait",
      () =>
        readFileSync(join(k.o.dir, "termhostd.log"), "utf8").includes("fleet-wait-1") ? true : undefined,
      10_000,
    );
    // Nothing is reserved for it while it waits.
    expect(k.sim.registers().controlTotal).toBe(before);
    expect((await account())?.reserved).toBe("0");
    await sql("SELECT fleet_fund('fleet', 'EUR', 1000, 'top-up')");
    expect(await pending).toMatchObject({ state: "applied", amount: ask });
    expect(k.sim.registers().controlTotal).toBe(before + ask);
  });

  it("no kiosk reported a refill its reservation cannot match", async () => {
    expect(await sql("SELECT * FROM fleet_discrepancy")).toEqual([]);
    const [a] = await sql<{ balance: string; funded: string }>("SELECT balance, funded FROM fleet_account");
    const [p] = await sql<{ posted: string }>(
      "SELECT coalesce(sum(posted), 0) AS posted FROM fleet_reservation",
    );
    expect(Number(a?.balance) + Number(p?.posted)).toBe(Number(a?.funded));
  });
});
