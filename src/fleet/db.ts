import { readFileSync } from "node:fs";
import pg from "pg";
import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import type { FleetDatabaseConfig } from "./config.js";
import { MIGRATIONS } from "./migrations.js";

/** SQLSTATE classes after which the same statement may succeed later: connection, shutdown, resources. */
const TRANSIENT_SQLSTATE = /^(08|53|57|40)/;

/**
 * The fleet's PostgreSQL: a small pool used one statement at a time (every money step is one
 * function call), so no client is ever checked out across an await and a server-killed connection
 * only fails the statement running on it. Every failure is a typed error: FLEET_UNAVAILABLE when the
 * database did not answer or may answer later (the outcome of that statement is then unknown, and
 * the caller repeats it by its key), INTERNAL for a refusal by the schema itself.
 */
export class FleetDb {
  readonly pool: pg.Pool;
  private ended = false;

  constructor(
    readonly config: FleetDatabaseConfig,
    applicationName: string,
    private readonly log?: Logger,
  ) {
    const password =
      config.passwordFile === undefined ? undefined : readFileSync(config.passwordFile, "utf8").trim();
    const tls = config.tls;
    this.pool = new pg.Pool({
      host: config.host,
      port: config.port,
      database: config.database,
      user: config.user,
      ...(password === undefined ? {} : { password }),
      ...(tls === undefined
        ? {}
        : {
            ssl: {
              ca: readFileSync(tls.caFile, "utf8"),
              ...(tls.certFile === undefined ? {} : { cert: readFileSync(tls.certFile, "utf8") }),
              ...(tls.keyFile === undefined ? {} : { key: readFileSync(tls.keyFile, "utf8") }),
              rejectUnauthorized: true,
            },
          }),
      max: config.poolSize,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: config.connectTimeoutMs,
      // The client gives up on a silent network; the server ends a statement or transaction left hanging.
      query_timeout: config.statementTimeoutMs + 1000,
      statement_timeout: config.statementTimeoutMs,
      idle_in_transaction_session_timeout: config.idleInTransactionTimeoutMs,
      options: `-c tcp_user_timeout=${config.tcpUserTimeoutMs}`,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      application_name: applicationName.slice(0, 63),
    });
    // An idle connection ended by the server (a restart, pg_terminate_backend) is only logged: the
    // pool replaces it. Without this listener the error would end the process.
    this.pool.on("error", (e) => this.log?.warn({ err: e.message }, "fleet database connection lost"));
  }

  /** One statement; failures typed as above. */
  async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    if (this.ended) throw new TermhostError("FLEET_UNAVAILABLE", "the fleet database connection is closed");
    try {
      return (await this.pool.query<R>(text, values)).rows;
    } catch (e) {
      throw fleetError(e);
    }
  }

  /** Brings the schema to this version's, one migration per transaction, under an advisory lock. */
  async migrate(): Promise<number> {
    const client = await this.pool.connect().catch((e: unknown) => {
      throw fleetError(e);
    });
    const onError = (e: Error): void => this.log?.warn({ err: e.message }, "fleet migration connection lost");
    client.on("error", onError);
    let failed: unknown;
    try {
      const latest = MIGRATIONS.at(-1)?.version ?? 0;
      // A kiosk's role may hold no CREATE right: a schema that is current is only read.
      const seen = await schemaVersion(client);
      if (seen === latest) return latest;
      if (seen === undefined || seen < latest) {
        await client.query("SELECT pg_advisory_lock(7415001)");
        await client.query(
          "CREATE TABLE IF NOT EXISTS fleet_schema (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        );
      }
      const current = (await schemaVersion(client)) ?? 0;
      if (current > latest)
        throw new TermhostError(
          "FLEET_SCHEMA_NEWER",
          `the fleet database has schema version ${current}; this termhostd knows up to ${latest}`,
          {
            hint: "upgrade termhostd on this kiosk: the database was migrated by a newer one",
            context: { current, latest },
          },
        );
      for (const m of MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query("BEGIN");
        try {
          await client.query(m.sql);
          await client.query("INSERT INTO fleet_schema (version, name) VALUES ($1, $2)", [m.version, m.name]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw e;
        }
        this.log?.info({ version: m.version, name: m.name }, "fleet schema migrated");
      }
      await client.query("SELECT pg_advisory_unlock(7415001)");
      return latest;
    } catch (e) {
      failed = e;
      throw e instanceof TermhostError ? e : fleetError(e);
    } finally {
      client.off("error", onError);
      client.release(failed instanceof Error ? failed : undefined);
    }
  }

  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.pool.end().catch(() => undefined);
  }
}

/** The schema's version, undefined before the first migration. */
async function schemaVersion(client: pg.PoolClient): Promise<number | undefined> {
  const exists = (await client.query<{ t: string | null }>("SELECT to_regclass('fleet_schema')::text AS t"))
    .rows;
  if (exists[0]?.t == null) return undefined;
  const rows = (await client.query<{ v: number | null }>("SELECT max(version) AS v FROM fleet_schema")).rows;
  return rows[0]?.v ?? 0;
}

/** A pg failure as the product's error: unavailable (retry by key) or a refusal by the schema. */
export function fleetError(e: unknown): TermhostError {
  if (e instanceof TermhostError) return e;
  const code = (e as { code?: unknown }).code;
  const message = e instanceof Error ? e.message : String(e);
  // Only the server's own errors carry a SQLSTATE: a socket's errno code can look like one (EPIPE).
  const sqlstate = e instanceof pg.DatabaseError && typeof code === "string" ? code : undefined;
  if (sqlstate === undefined || TRANSIENT_SQLSTATE.test(sqlstate))
    return new TermhostError("FLEET_UNAVAILABLE", `the fleet database did not answer: ${message}`, {
      hint: "the kiosk keeps its journal and tries again; check the database server and the network to it",
      context: {
        ...(sqlstate === undefined ? {} : { sqlstate }),
        ...(typeof code === "string" ? { code } : {}),
      },
      cause: e,
    });
  return new TermhostError("INTERNAL", `the fleet database refused: ${message}`, {
    hint: "a fleet schema invariant refused the step: report it with the log",
    context: { sqlstate },
    cause: e,
  });
}
