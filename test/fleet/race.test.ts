import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { isTermhostError } from "../../src/errors/errors.js";
import type { RpcClient } from "../../src/jsonrpc/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { TestPostgres } from "../support/postgres.js";
import { FleetKiosk, METER } from "./support/kiosk.js";

const KIOSKS = 16;
const FUNDS = 1000;

interface Answer {
  kiosk: number;
  value: unknown;
}

/**
 * Sixteen kiosks, each its own termhostd and meter, ask the shared account for a refill at the same
 * moment: the account's row lock orders them, and what it grants is exactly what the meters get.
 */
describe("16 kiosks racing for one fleet account", () => {
  const dir = mkdtempSync(join(tmpdir(), "termhost-race-"));
  let pg: TestPostgres;
  let group: ProcessGroup;
  const kiosks: FleetKiosk[] = [];

  const sql = async <T = Record<string, unknown>>(text: string, values: unknown[] = []) =>
    (await pg.query(text, values, "fleet")) as T[];
  const account = async () =>
    (
      await sql<{ balance: string; reserved: string }>(
        "SELECT balance, reserved FROM fleet_account WHERE id = 'fleet'",
      )
    )[0];
  const controlTotals = () => kiosks.map((k) => k.sim.registers().controlTotal);

  /** Opens every kiosk's connection first, then sends all requests in one go: none waits on another's connect. */
  async function race(amount: number, tag: string): Promise<Answer[]> {
    const clients: RpcClient[] = await Promise.all(kiosks.map((k) => k.connect()));
    try {
      const calls = clients.map((c, i) =>
        c
          .call(
            "postage.refill",
            { meter: METER, amount, nextInspection: "2099-12-31", requestId: `${tag}-${i}` },
            20_000,
          )
          .then(
            (value) => ({ kiosk: i, value }),
            (value: unknown) => ({ kiosk: i, value }),
          ),
      );
      return await Promise.all(calls);
    } finally {
      for (const c of clients) c.close();
    }
  }

  /** Until every daemon started after `since` has reached the database: its first heartbeat follows the schema check. */
  const allReached = (since: Date) =>
    waitUntil(
      "every kiosk's fleet service ready",
      async () => {
        const seen = await sql<{ n: number }>(
          "SELECT count(*)::int AS n FROM fleet_kiosk WHERE last_seen > $1",
          [since],
        );
        return seen[0]?.n === KIOSKS ? true : undefined;
      },
      20_000,
    );
  const dbNow = async () => (await sql<{ now: Date }>("SELECT now() AS now"))[0]?.now as Date;

  /** Until the outbox has posted every grant: no reservation open or sending. */
  const settled = () =>
    waitUntil(
      "every grant posted",
      async () => {
        const live = await sql<{ n: number }>(
          "SELECT count(*)::int AS n FROM fleet_reservation WHERE state IN ('open', 'sending')",
        );
        return live[0]?.n === 0 ? true : undefined;
      },
      15_000,
    );

  beforeAll(async () => {
    pg = await TestPostgres.start();
    await pg.createDatabase("fleet");
    group = new ProcessGroup();
    kiosks.push(
      ...(await Promise.all(
        Array.from({ length: KIOSKS }, (_, i) =>
          FleetKiosk.start(group, {
            id: `race-${i}`,
            dir: join(dir, `race-${i}`),
            funds: FUNDS,
            serial: `PM4${String(i).padStart(2, "0")}`,
            database: { host: pg.socketDir, port: pg.port },
            fleet: { onInsufficient: "reject" },
          }),
        ),
      )),
    );
    await waitUntil(
      "the fleet schema",
      async () => (await sql("SELECT to_regclass('fleet_kiosk') AS t"))[0]?.t ?? undefined,
      15_000,
    );
    await allReached(new Date(0));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(kiosks.map((k) => k.close()));
    await group?.stopAll();
    await pg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("all ask for more than half the funds, rejecting a shortfall: exactly one is granted and credited", async () => {
    const F = 10_000;
    const ask = 6000;
    await sql("SELECT fleet_fund('fleet', 'EUR', $1, 'race')", [F]);
    const answers = await race(ask, "half");
    const granted = answers.filter((a) => !isTermhostError(a.value));
    const refused = answers.filter((a) => isTermhostError(a.value, "FLEET_INSUFFICIENT_FUNDS"));
    expect(granted).toHaveLength(Math.floor(F / ask));
    expect(refused).toHaveLength(KIOSKS - 1);
    const winner = granted[0] as Answer;
    expect(winner.value).toMatchObject({ state: "applied", amount: ask });
    // Every refusal came after the grant: each saw what the grant left.
    for (const r of refused) expect(r.value).toMatchObject({ context: { needed: ask, unreserved: F - ask } });
    expect(controlTotals()).toEqual(kiosks.map((_, i) => (i === winner.kiosk ? FUNDS + ask : FUNDS)));
    for (const r of refused) expect(kiosks[r.kiosk]?.sim.registers().descending).toBe(FUNDS);

    await settled();
    expect(await account()).toEqual({ balance: String(F - ask), reserved: "0" });
    const reservations = await sql("SELECT kiosk_id, amount, state, posted FROM fleet_reservation");
    expect(reservations).toEqual([
      { kiosk_id: `race-${winner.kiosk}`, amount: String(ask), state: "posted", posted: String(ask) },
    ]);
  });

  it("with partial grants, the ones that fit are granted in full, one gets the rest, and the others nothing", async () => {
    await Promise.all(kiosks.map((k) => k.stopDaemon()));
    for (const k of kiosks) k.reconfigure({ onInsufficient: "partial" });
    const restarted = await dbNow();
    await Promise.all(kiosks.map((k) => k.startDaemon()));
    await allReached(restarted);
    // 4000 left from the first round; 7000 is three asks and a half.
    await sql("SELECT fleet_fund('fleet', 'EUR', 3000, 'race')");
    const before = await account();
    const unreserved = Number(before?.balance) - Number(before?.reserved);
    expect(unreserved).toBe(7000);
    const ask = 2000;
    const totalsBefore = controlTotals();

    const answers = await race(ask, "partial");
    const grants = answers
      .filter((a) => !isTermhostError(a.value))
      .map((a) => ({ kiosk: a.kiosk, ...(a.value as { state: string; amount: number }) }));
    const refused = answers.filter((a) => isTermhostError(a.value, "FLEET_INSUFFICIENT_FUNDS"));
    expect(grants.length + refused.length).toBe(KIOSKS);
    const sum = grants.reduce((s, g) => s + g.amount, 0);
    expect(sum).toBeLessThanOrEqual(unreserved);
    const full = Math.floor(unreserved / ask);
    expect(grants.filter((g) => g.amount === ask)).toHaveLength(full);
    expect(grants.filter((g) => g.amount < ask).map((g) => g.amount)).toEqual([unreserved - full * ask]);
    expect(sum).toBe(unreserved);
    for (const g of grants) expect(g.state).toBe("applied");
    for (const r of refused) expect(r.value).toMatchObject({ context: { needed: ask, unreserved: 0 } });
    // Each meter got exactly its grant; the refused ones nothing.
    const credited = controlTotals().map((t, i) => t - (totalsBefore[i] ?? 0));
    expect(credited).toEqual(kiosks.map((_, i) => grants.find((g) => g.kiosk === i)?.amount ?? 0));

    await settled();
    expect(await account()).toEqual({ balance: "0", reserved: "0" });
    const posted = await sql<{ s: string; n: number }>(
      "SELECT sum(posted) AS s, count(*)::int AS n FROM fleet_reservation WHERE state = 'posted'",
    );
    expect(posted[0]).toEqual({ s: String(6000 + sum), n: 1 + grants.length });
  });
});
