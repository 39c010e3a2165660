import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetAccount } from "../../src/fleet/account.js";
import { FleetDatabaseConfig } from "../../src/fleet/config.js";
import { FleetDb } from "../../src/fleet/db.js";
import { TestPostgres } from "../support/postgres.js";

/** The account's functions against a real PostgreSQL: each money step and its invariants. */
describe("the fleet account on PostgreSQL", () => {
  let pg: TestPostgres;
  let db: FleetDb;
  const dbConfig = () =>
    FleetDatabaseConfig.parse({ host: pg.socketDir, port: pg.port, database: "fleet", user: "postgres" });
  const account = (leaseMs = 60_000, kioskId = "k1") =>
    new FleetAccount(db, { account: "acct", kioskId, leaseMs });
  const funds = async () => {
    const f = await account().funds();
    if (f === undefined) throw new Error("the account is gone");
    return f;
  };

  beforeAll(async () => {
    pg = await TestPostgres.start();
    await pg.createDatabase("fleet");
    db = new FleetDb(dbConfig(), "account test");
    expect(await db.migrate()).toBe(1);
    // Migrating again is a no-op: the version is recorded.
    expect(await db.migrate()).toBe(1);
    await db.query("SELECT fleet_fund('acct', 'EUR', 10000, 'test')");
  });
  afterAll(async () => {
    await db?.end();
    await pg?.destroy();
  });

  it("reserves against the unreserved balance, once per key, and posts by what was credited", async () => {
    const a = account();
    const r = await a.reserve("key-1", "m", 3000, 3000);
    expect(r).toMatchObject({ kind: "granted", amount: 3000, state: "open", created: true });
    // The same key answers the same reservation: nothing reserved twice.
    expect(await a.reserve("key-1", "m", 3000, 3000)).toMatchObject({ kind: "granted", created: false });
    expect(await funds()).toMatchObject({ balance: 10000, reserved: 3000, unreserved: 7000 });
    // Never sent: it cannot be posted.
    expect(await a.settle("key-1", 3000)).toBe("not-sent");
    expect(await a.sending("key-1")).toBe("sending");
    expect(await a.sending("key-1")).toBe("sending");
    expect(await a.settle("key-1", 3001)).toBe("over");
    expect(await a.settle("key-1", 3000)).toBe("posted");
    expect(await a.settle("key-1", 3000)).toBe("posted");
    expect(await a.settle("key-1", null)).toBe("posted");
    expect(await funds()).toMatchObject({ balance: 7000, reserved: 0, funded: 10000 });
  });

  it("refuses what the unreserved funds do not cover, and grants a part when allowed", async () => {
    const a = account();
    await a.reserve("key-2", "m", 6000, 6000);
    expect(await a.reserve("key-3", "m", 2000, 2000)).toEqual({ kind: "refused", unreserved: 1000 });
    expect(await a.reserve("key-3", "m", 2000, 1)).toMatchObject({ kind: "granted", amount: 1000 });
    expect(await a.reserve("key-4", "m", 10, 1)).toEqual({ kind: "refused", unreserved: 0 });
    expect(await a.settle("key-2", null)).toBe("voided");
    expect(await a.settle("key-3", null)).toBe("voided");
    expect(await funds()).toMatchObject({ balance: 7000, reserved: 0 });
  });

  it("gives an expired lease's funds back, and never sends or posts it afterwards", async () => {
    const short = account(1000);
    await short.reserve("key-5", "m", 5000, 5000);
    expect((await funds()).reserved).toBe(5000);
    await db.query(
      "UPDATE fleet_reservation SET lease_until = now() - interval '1 second' WHERE key = 'key-5'",
    );
    expect(await short.renew("key-5")).toMatchObject({ state: "expired" });
    expect(await short.sending("key-5")).toBe("expired");
    // The next reservation of the account sweeps it.
    expect(await short.reserve("key-6", "m", 7000, 7000)).toMatchObject({ kind: "granted", amount: 7000 });
    expect(await short.settle("key-5", 5000)).toBe("expired");
    expect(await short.settle("key-6", null)).toBe("voided");
    expect(await funds()).toMatchObject({ balance: 7000, reserved: 0 });
  });

  it("16 kiosks racing for more than half the funds: exactly one is granted", async () => {
    const { unreserved } = await funds();
    const ask = Math.floor(unreserved / 2) + 1;
    const kiosks = Array.from({ length: 16 }, (_, i) => account(60_000, `race-${i}`));
    const answers = await Promise.all(kiosks.map((k, i) => k.reserve(`race-${i}`, "m", ask, ask)));
    expect(answers.filter((a) => a.kind === "granted")).toHaveLength(1);
    expect(answers.filter((a) => a.kind === "refused")).toHaveLength(15);
    expect((await funds()).reserved).toBe(ask);
    for (let i = 0; i < 16; i++) await kiosks[i]?.settle(`race-${i}`, null);
  });

  it("the ledger takes a kiosk's row once, and a refill its reservation cannot match is kept as a discrepancy", async () => {
    const row = (txId: string, state: string, reservation: string) => ({
      tx_id: txId,
      kind: "refill",
      state,
      target: "PM1",
      amount: 500,
      currency: "EUR",
      at: new Date().toISOString(),
      body: { reservation, credited: 500 },
    });
    const a = account();
    await a.reserve("key-7", "m", 500, 500);
    expect(await a.sending("key-7")).toBe("sending");
    const rows = [row("tx-7", "applied", "key-7"), row("tx-8", "applied", "never-reserved")];
    const ingest = async () =>
      (
        await db.query<{ n: number }>("SELECT fleet_ingest('k1', $1::jsonb, 0) AS n", [JSON.stringify(rows)])
      )[0]?.n;
    expect(await ingest()).toBe(2);
    expect(await ingest()).toBe(0);
    expect(await a.settle("key-7", null)).toBe("posted");
    expect(await db.query("SELECT tx_id, tx_state, reservation_state FROM fleet_discrepancy")).toEqual([
      { tx_id: "tx-8", tx_state: "applied", reservation_state: "unknown" },
    ]);
    await db.query("DELETE FROM fleet_discrepancy");
    expect((await funds()).balance).toBe(6500);
  });

  it("the database refuses what breaks an invariant, whatever the caller", async () => {
    await expect(
      db.query("UPDATE fleet_account SET reserved = balance + 1 WHERE id = 'acct'"),
    ).rejects.toMatchObject({ code: "INTERNAL", context: { sqlstate: "23514" } });
    await expect(db.query("UPDATE fleet_account SET balance = -1 WHERE id = 'acct'")).rejects.toMatchObject({
      context: { sqlstate: "23514" },
    });
  });

  it("a kiosk role with EXECUTE and SELECT only checks the schema, moves money through the functions, and writes no table", async () => {
    await db.query("CREATE ROLE kiosk_role LOGIN");
    await db.query("REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC");
    await db.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    await db.query(
      "GRANT EXECUTE ON FUNCTION fleet_reserve, fleet_renew, fleet_sending, fleet_settle, fleet_ingest, fleet_seen, fleet_expire TO kiosk_role",
    );
    await db.query(
      "GRANT SELECT ON fleet_schema, fleet_account, fleet_reservation, fleet_kiosk, fleet_ledger TO kiosk_role",
    );
    const kioskDb = new FleetDb({ ...dbConfig(), user: "kiosk_role" }, "least privilege");
    try {
      expect(await kioskDb.migrate()).toBe(1);
      const a = new FleetAccount(kioskDb, { account: "acct", kioskId: "k9", leaseMs: 60_000 });
      expect(await a.reserve("key-9", "m", 100, 100)).toMatchObject({ kind: "granted" });
      expect(await a.sending("key-9")).toBe("sending");
      expect(await a.settle("key-9", 100)).toBe("posted");
      await expect(kioskDb.query("UPDATE fleet_account SET reserved = 0")).rejects.toMatchObject({
        context: { sqlstate: "42501" },
      });
      await expect(kioskDb.query("SELECT fleet_fund('acct', 'EUR', 1, 'x')")).rejects.toMatchObject({
        context: { sqlstate: "42501" },
      });
    } finally {
      await kioskDb.end();
    }
    expect((await funds()).balance).toBe(6400);
  });

  it("a server that went away is FLEET_UNAVAILABLE, and the pool reconnects after its restart", async () => {
    await pg.stopImmediate();
    await expect(account().funds()).rejects.toMatchObject({ code: "FLEET_UNAVAILABLE" });
    await pg.restart();
    expect((await funds()).balance).toBe(6400);
  });
});
