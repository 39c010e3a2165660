import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessGroup, type TrackedProcess } from "../../simulators/rig/processes.js";
import { registerFleetMethods } from "../../src/api/handlers/fleet.js";
import { FleetMethods } from "../../src/api/schemas/index.js";
import { formatFleet } from "../../src/cli/commands/fleet.js";
import { Exit } from "../../src/cli/exit-codes.js";
import type { FleetService } from "../../src/fleet/service.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import type { RpcServer } from "../../src/jsonrpc/server.js";
import { builtEntry } from "../../src/util/paths.js";
import { daemonThreadpoolEnv } from "../../src/util/threadpool.js";
import { waitUntil } from "../../src/util/wait.js";
import { jsonOf, runCli } from "../support/cli.js";
import { TestPostgres } from "../support/postgres.js";
import { FleetKiosk, METER } from "./support/kiosk.js";

const Result = FleetMethods["admin.fleet"].result;

/** termhostd as one kiosk alone: no `fleet`, no meters, no pcscd. */
async function startLoneDaemon(group: ProcessGroup, dir: string): Promise<TrackedProcess> {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, "termhostd.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      mode: "simulation",
      logLevel: "info",
      stateDir: join(dir, "state"),
      api: { socketPath: join(dir, "api.sock") },
      pcsc: { socketPath: join(dir, "no-pcscd.sock"), retryMinMs: 1000, retryMaxMs: 5000 },
    }),
  );
  const proc = group.start(
    "termhostd alone",
    process.execPath,
    [builtEntry("src/daemon/main.js"), "--config", configPath],
    { logPath: join(dir, "termhostd.log"), env: daemonThreadpoolEnv() },
  );
  await waitUntil(
    "the lone termhostd's admin socket",
    async () => {
      if (proc.child.exitCode !== null)
        throw new Error(`termhostd exited with ${proc.child.exitCode}; see ${proc.logPath}`);
      const client = await RpcClient.connect(join(dir, "admin.sock")).catch(() => undefined);
      if (client === undefined) return undefined;
      try {
        return (await client.call("system.status", {})) !== undefined || undefined;
      } catch {
        return undefined;
      } finally {
        client.close();
      }
    },
    15_000,
    25,
  );
  return proc;
}

/** `termhost fleet` against kiosks that share one account on a real PostgreSQL. */
describe("termhost fleet", () => {
  let pg: TestPostgres;
  let group: ProcessGroup;
  const kiosks: FleetKiosk[] = [];
  const dir = mkdtempSync(join(tmpdir(), "termhost-fleet-cli-"));

  const sql = async <T = Record<string, unknown>>(text: string, values: unknown[] = []) =>
    (await pg.query(text, values, "fleet")) as T[];
  const fleet = (k: FleetKiosk, ...args: string[]) =>
    runCli(["--socket", k.socketPath, "fleet", ...args], { timeoutMs: 20_000 });

  beforeAll(async () => {
    pg = await TestPostgres.start();
    await pg.createDatabase("fleet");
    group = new ProcessGroup();
    // Started in reverse order, so that sorting by id is the CLI's doing, not the order of arrival.
    for (const i of [1, 0])
      kiosks[i] = await FleetKiosk.start(group, {
        id: `kiosk-${i}`,
        dir: join(dir, `kiosk-${i}`),
        funds: 1000,
        serial: `PM10${i}`,
        database: { host: pg.socketDir, port: pg.port },
        // Reports often, so the fleet sees the meters' funds after the refill without a long wait.
        fleet: { outbox: { heartbeatMs: 300 } },
      });
    await waitUntil(
      "the fleet schema",
      async () => (await sql("SELECT to_regclass('fleet_account') AS t"))[0]?.t ?? undefined,
      15_000,
    );
    await sql("SELECT fleet_fund('fleet', 'EUR', 10000, 'x')");
    const k0 = kiosks[0] as FleetKiosk;
    const refill = await k0.call("postage.refill", {
      meter: METER,
      amount: 3000,
      nextInspection: "2099-12-31",
      requestId: "cli-refill-1",
    });
    expect(refill).toMatchObject({ state: "applied", amount: 3000 });
    await waitUntil(
      "the refill posted from kiosk-0's outbox",
      async () => {
        const a = await sql<{ balance: string }>("SELECT balance FROM fleet_account WHERE id = 'fleet'");
        return a[0]?.balance === "7000" || undefined;
      },
      10_000,
    );
    // A reservation that holds funds for a minute, as a refill under way on kiosk-1 would.
    await sql("SELECT * FROM fleet_reserve('held-1', 'fleet', 'kiosk-1', $1, 500, 500, 60000)", [METER]);
    await waitUntil(
      "both kiosks reporting their connected meters, kiosk-0's refilled",
      async () => {
        const rows = await sql<{ id: string; connected: boolean; balance: string }>(
          `SELECT id, (meters->0->>'connected')::boolean AS connected, meters->0->>'balance' AS balance
             FROM fleet_kiosk ORDER BY id`,
        );
        const [a, b] = rows;
        return rows.length === 2 && a?.connected && b?.connected && a.balance === "4000" ? rows : undefined;
      },
      10_000,
    );
  }, 90_000);
  afterAll(async () => {
    for (const k of kiosks) await k?.close();
    await group?.stopAll();
    await pg?.destroy();
  });

  it("shows the kiosks by id, the account, the open reservation and the refill per day", async () => {
    const run = await fleet(kiosks[1] as FleetKiosk);
    expect(run.code, run.stderr).toBe(Exit.OK);
    const out = run.stdout;
    expect(out).toMatch(/this kiosk kiosk-1 {2}account fleet {2}ready/);
    expect(out).toMatch(/outbox {2}0 pending/);
    expect(out).toContain("account fleet  balance 7000 EUR  reserved 500  unreserved 6500  funded 10000");
    const k0 = out.search(/^kiosk-0 +\d+ s ago /m);
    const k1 = out.search(/^kiosk-1 +\d+ s ago /m);
    expect(k0).toBeGreaterThan(0);
    expect(k1).toBeGreaterThan(k0);
    expect(out).toMatch(new RegExp(`^kiosk-0 .*${METER} +PM100 +connected +4000 EUR +4000$`, "m"));
    expect(out).toMatch(new RegExp(`^kiosk-1 .*${METER} +PM101 +connected +1000 EUR +1000$`, "m"));
    expect(out).toMatch(new RegExp(`^held-1 +kiosk-1 +${METER} +500 +open +\\d+ s left$`, "m"));
    const [refill] = await sql<{ day: string }>(
      `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM fleet_ledger WHERE kind = 'refill'`,
    );
    expect(out).toMatch(new RegExp(`^${refill?.day} +refill +1 +3000$`, "m"));
  });

  it("--json prints the method's result as it is", async () => {
    const run = await fleet(kiosks[0] as FleetKiosk, "--days", "3", "--json");
    expect(run.code, run.stderr).toBe(Exit.OK);
    const r = Result.parse(jsonOf(run));
    expect(r.error).toBeNull();
    expect(r.kiosk).toMatchObject({ kioskId: "kiosk-0", account: "fleet", ready: true });
    expect(r.kiosk.outbox).toMatchObject({ pending: 0, synced: true, error: null });
    expect(r.kiosk.outbox.sent).toBeGreaterThanOrEqual(1);
    expect(r.overview?.account).toEqual({
      id: "fleet",
      currency: "EUR",
      balance: 7000,
      reserved: 500,
      funded: 10000,
    });
    expect(r.overview?.kiosks.map((k) => k.id).sort()).toEqual(["kiosk-0", "kiosk-1"]);
    expect(r.overview?.reservations).toMatchObject([{ key: "held-1", state: "open", amount: 500 }]);
    expect(r.overview?.days).toContainEqual(
      expect.objectContaining({ kind: "refill", count: 1, amount: 3000 }),
    );
  });

  it("a days value out of range is a usage error", async () => {
    const run = await fleet(kiosks[0] as FleetKiosk, "--days", "91");
    expect(run.code).toBe(Exit.USAGE);
    expect(run.stderr).toContain("INVALID_PARAMS");
  });

  it("on a daemon without a fleet, says how to configure one and exits 12", async () => {
    const lone = join(dir, "lone");
    const proc = await startLoneDaemon(group, lone);
    try {
      const run = await runCli(["--socket", join(lone, "api.sock"), "fleet"]);
      expect(run.code).toBe(Exit.UNSUPPORTED);
      expect(run.stderr).toContain("FLEET_NOT_CONFIGURED");
      expect(run.stderr).toContain("termhostd.json");
      expect(run.stderr).toContain("docs/fleet.md");
      const json = await runCli(["--socket", join(lone, "api.sock"), "--json", "fleet"]);
      expect(json.code).toBe(Exit.UNSUPPORTED);
      expect(jsonOf(json)).toMatchObject({ error: { code: "FLEET_NOT_CONFIGURED" } });
    } finally {
      await group.stop(proc);
    }
  });

  // Last: the database stays down.
  it("with the database down, still shows this kiosk's status and the error, and exits 1", async () => {
    await pg.stopImmediate();
    const started = Date.now();
    const run = await fleet(kiosks[0] as FleetKiosk);
    expect(run.code, run.stderr).toBe(Exit.FAILED);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.stdout).toMatch(/this kiosk kiosk-0 {2}account fleet {2}ready/);
    expect(run.stdout).toMatch(/outbox {2}0 pending, \d+ sent, last \d+ s ago/);
    expect(run.stdout).toContain("fleet database: FLEET_UNAVAILABLE: ");
    expect(run.stdout).not.toContain("balance 7000");
    const json = await fleet(kiosks[0] as FleetKiosk, "--json");
    expect(json.code).toBe(Exit.FAILED);
    const r = Result.parse(jsonOf(json));
    expect(r.overview).toBeNull();
    expect(r.error?.code).toBe("FLEET_UNAVAILABLE");
    expect(r.kiosk.kioskId).toBe("kiosk-0");
  });
});

describe("formatFleet", () => {
  const now = Date.parse("2030-01-02T12:00:00.000Z");
  const at = (msAgo: number) => new Date(now - msAgo).toISOString();

  it("ages, leases and an account not funded yet", () => {
    const text = formatFleet(
      {
        kiosk: {
          kioskId: "k",
          account: "a",
          ready: false,
          outbox: { pending: 2, synced: false, sent: 0, lastSentAt: null, error: "FLEET_UNAVAILABLE: down" },
        },
        overview: {
          account: null,
          kiosks: [
            { id: "b", lastSeen: at(3 * 3600_000), version: "1", outboxPending: 0, meters: [] },
            { id: "a", lastSeen: at(12_400), version: "1", outboxPending: 2, meters: [] },
          ],
          reservations: [
            {
              key: "r1",
              kiosk: "a",
              meter: "m",
              amount: 5,
              state: "open",
              createdAt: at(0),
              leaseUntil: at(-90_000),
            },
            {
              key: "r2",
              kiosk: "a",
              meter: "m",
              amount: 5,
              state: "open",
              createdAt: at(0),
              leaseUntil: at(4000),
            },
            {
              key: "r3",
              kiosk: "a",
              meter: "m",
              amount: 5,
              state: "sending",
              createdAt: at(0),
              leaseUntil: at(4000),
            },
          ],
          days: [],
        },
        error: null,
      },
      now,
    );
    expect(text).toContain("not ready");
    expect(text).toContain("outbox  2 pending, 0 sent, catching up");
    expect(text).toContain("outbox  last error FLEET_UNAVAILABLE: down");
    expect(text).toContain("account not funded yet");
    expect(text).toMatch(/^a +12 s ago /m);
    expect(text).toMatch(/^b +3 h ago /m);
    expect(text.indexOf("\na ")).toBeLessThan(text.indexOf("\nb "));
    expect(text).toMatch(/^r1 .* 90 s left$/m);
    expect(text).toMatch(/^r2 .* passed 4 s ago$/m);
    expect(text).toMatch(/^r3 .* - \(sending\)$/m);
    expect(text).toContain("no transactions in the ledger in these days");
  });
});

describe("admin.fleet", () => {
  const status = {
    kioskId: "k",
    account: "a",
    ready: true,
    outbox: { pending: 0, synced: true, sent: 0, lastSentAt: null, error: null },
  };
  /** The handler as registered, called as the server would, its answer checked against the schema. */
  const handler = (overview: () => Promise<unknown>, deadlineMs: number) => {
    let registered: ((p: unknown) => Promise<unknown>) | undefined;
    const server = {
      register: (_name: string, _spec: unknown, h: (p: unknown) => Promise<unknown>) => {
        registered = h;
      },
    } as unknown as RpcServer;
    const fleet = { status: () => status, overview } as unknown as FleetService;
    registerFleetMethods(server, { fleet }, deadlineMs);
    return async () => Result.parse(await registered?.({ days: 7 }));
  };

  it("a database that does not answer in time leaves the overview out, not the kiosk's status", async () => {
    const started = Date.now();
    const r = await handler(() => new Promise(() => undefined), 200)();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(r).toMatchObject({ kiosk: status, overview: null, error: { code: "FLEET_UNAVAILABLE" } });
    expect(r.error?.message).toContain("within 200 ms");
  });

  it("a failure that is not the database's is not passed off as one", async () => {
    await expect(handler(() => Promise.reject(new TypeError("bug")), 200)()).rejects.toThrow("bug");
  });
});
