import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForEvent, waitUntil } from "../../src/util/wait.js";
import { BlackholeProxy } from "../support/blackhole.js";
import { TestPostgres } from "../support/postgres.js";

/**
 * Which of 'end' or 'error' the client emits first within `ms`, or "none". Waiting out the timer is
 * the point: a silent network is the absence of those events.
 */
function firstCloseEvent(client: pg.Client, ms: number): Promise<"end" | "error" | "none"> {
  return new Promise((resolve) => {
    const done = (what: "end" | "error" | "none"): void => {
      clearTimeout(timer);
      client.off("end", onEnd);
      client.off("error", onError);
      resolve(what);
    };
    const onEnd = (): void => done("end");
    const onError = (): void => done("error");
    const timer = setTimeout(() => done("none"), ms);
    client.on("end", onEnd);
    client.on("error", onError);
  });
}

/** A zombie counts as gone: it has exited, and only waits for init to reap it. */
function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
  // The state follows the parenthesised command name, which may itself contain ") ".
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

async function connected(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  // Tests that expect an error wait on it themselves; without a listener it would crash the worker.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

describe("the fleet test harness: a private PostgreSQL and a proxy that can go silent", () => {
  let pgsql: TestPostgres;
  let proxy: BlackholeProxy;

  beforeAll(async () => {
    pgsql = await TestPostgres.start();
    proxy = await BlackholeProxy.start({ path: pgsql.socketPath });
  });

  afterAll(async () => {
    await proxy?.close();
    await pgsql?.destroy();
  });

  it("serves only its own unix socket, with the test settings, through clientConfig() and connectionString()", async () => {
    const client = await connected(pgsql.clientConfig());
    try {
      const { rows } = await client.query<{ fsync: string; listen: string; sockets: string; conns: string }>(
        `SELECT current_setting('fsync') AS fsync, current_setting('listen_addresses') AS listen,
                current_setting('unix_socket_directories') AS sockets, current_setting('max_connections') AS conns`,
      );
      expect(rows[0]).toEqual({ fsync: "off", listen: "", sockets: pgsql.socketDir, conns: "200" });
    } finally {
      await client.end();
    }

    await pgsql.createDatabase("fleet");
    const viaUrl = await connected({ connectionString: pgsql.connectionString("fleet") });
    try {
      const { rows } = await viaUrl.query<{ db: string }>("SELECT current_database() AS db");
      expect(rows[0]?.db).toBe("fleet");
    } finally {
      await viaUrl.end();
    }
  });

  it("holds a query while paused without closing the connection, and delivers it on resume", async () => {
    const client = await connected({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: "postgres",
      application_name: "through-proxy",
    });
    try {
      expect((await client.query<{ n: number }>("SELECT 1 AS n")).rows[0]?.n).toBe(1);

      proxy.pause();
      let settled = false;
      const held = client.query<{ n: number }>("SELECT 42 AS n");
      held.then(
        () => {
          settled = true;
        },
        () => {
          settled = true;
        },
      );
      expect(await firstCloseEvent(client, 1000)).toBe("none");
      expect(settled).toBe(false);
      expect(proxy.connections).toBe(1);
      // The server still has the session, idle: the query never got past the proxy.
      const sessions = await pgsql.query<{ state: string }>(
        "SELECT state FROM pg_stat_activity WHERE application_name = 'through-proxy'",
      );
      expect(sessions).toEqual([{ state: "idle" }]);

      proxy.resume();
      expect((await held).rows[0]?.n).toBe(42);
    } finally {
      proxy.resume();
      await client.end();
    }
  });

  it("lets query_timeout fail a query on a silent link while the socket stays open", async () => {
    const client = await connected({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: "postgres",
      query_timeout: 300,
    });
    try {
      proxy.pause();
      const started = Date.now();
      await expect(client.query("SELECT 1")).rejects.toThrow("Query read timeout");
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(await firstCloseEvent(client, 1000)).toBe("none");
      expect(proxy.connections).toBe(1);

      proxy.resume();
      // The late answer to the abandoned query is absorbed; the connection serves the next one.
      expect((await client.query<{ n: number }>("SELECT 7 AS n")).rows[0]?.n).toBe(7);
    } finally {
      proxy.resume();
      await client.end();
    }
  });

  it("cut() ends every proxied connection at once", async () => {
    const client = await connected({
      host: "127.0.0.1",
      port: proxy.port,
      user: "postgres",
      database: "postgres",
    });
    const ended = waitForEvent(client, "end", () => true, 5000);
    proxy.cut();
    await ended;
    await expect(client.query("SELECT 1")).rejects.toThrow();
    await waitUntil(
      "the proxy to drop the cut connection",
      () => (proxy.connections === 0 ? true : undefined),
      5000,
    );
  });

  it("keeps committed rows across stopImmediate() and the recovery restart() runs", async () => {
    await pgsql.query("CREATE TABLE survivors (id int PRIMARY KEY, note text NOT NULL)");
    await pgsql.query("INSERT INTO survivors VALUES (1, 'committed before the crash')");
    const pid = pgsql.postmasterPid();
    expect(pid).toBeDefined();

    await pgsql.stopImmediate();
    expect(pgsql.running).toBe(false);
    expect(isAlive(pid ?? 0)).toBe(false);
    await expect(pgsql.query("SELECT 1")).rejects.toThrow();

    await pgsql.restart();
    expect(pgsql.running).toBe(true);
    expect(await pgsql.query("SELECT id, note FROM survivors")).toEqual([
      { id: 1, note: "committed before the crash" },
    ]);
    expect(await pgsql.readLog()).toMatch(
      /database system was not properly shut down; automatic recovery in progress/,
    );
  });

  it("terminateBackends() ends the named idle client, whose 'error' handler fires, and spares the rest", async () => {
    const victim = await connected({ ...pgsql.clientConfig(), application_name: "victim" });
    const bystander = await connected({ ...pgsql.clientConfig(), application_name: "bystander" });
    try {
      const failed = waitForEvent<[Error & { code?: string }]>(victim, "error", () => true, 5000);
      expect(await pgsql.terminateBackends({ applicationName: "victim" })).toBe(1);
      const [err] = await failed;
      expect(err.code).toBe("57P01");
      expect((await bystander.query<{ n: number }>("SELECT 3 AS n")).rows[0]?.n).toBe(3);
      expect(await pgsql.terminateBackends({ applicationName: "victim" })).toBe(0);
    } finally {
      await victim.end().catch(() => undefined);
      await bystander.end();
    }
    const all = await connected(pgsql.clientConfig());
    const failed = waitForEvent(all, "error", () => true, 5000);
    expect(await pgsql.terminateBackends()).toBe(1);
    await failed;
    await all.end().catch(() => undefined);
  });

  it("destroy() stops the server and removes its directory", async () => {
    const pid = pgsql.postmasterPid();
    expect(pid).toBeDefined();
    await pgsql.destroy();
    expect(isAlive(pid ?? 0)).toBe(false);
    expect(existsSync(pgsql.dir)).toBe(false);
  });
});
