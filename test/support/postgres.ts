import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { appendFile, chmod, mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

/** Longest unix socket path the kernel takes (sun_path is 108 bytes, NUL included). */
const MAX_SOCKET_PATH = 107;

export interface TestPostgresOptions {
  /** Parent of the cluster's temporary directory; /tmp unless given. */
  dir?: string;
  /** Extra server settings, written to postgresql.conf after the defaults so they win. */
  settings?: Record<string, string>;
  /** Off by default: tests want speed, and a crash that is not a power loss keeps the page cache. */
  fsync?: boolean;
  port?: number;
}

/**
 * Debian installs each server major under /usr/lib/postgresql/<major>/bin, off PATH. pg_config
 * names the bin dir of the libpq it ships with, which can be another major than the installed
 * server, so its answer counts only if initdb is actually there.
 */
export function postgresBinDir(): string {
  try {
    const dir = execFileSync("pg_config", ["--bindir"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    if (dir !== "" && existsSync(join(dir, "initdb"))) return dir;
  } catch {
    // no pg_config on PATH: fall through to the Debian layout
  }
  const root = "/usr/lib/postgresql";
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, "bin", "initdb")))
        .map(Number)
        .sort((a, b) => b - a)
    : [];
  const newest = majors[0];
  if (newest === undefined) {
    throw new Error(
      "no PostgreSQL server found: pg_config --bindir has no initdb and /usr/lib/postgresql/*/bin is empty",
    );
  }
  return join(root, String(newest), "bin");
}

/** A postgresql.conf value: always quoted, so paths and empty strings need no special case. */
function confValue(value: string): string {
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

/**
 * A throwaway PostgreSQL cluster of the machine's own server binaries, reachable only over a unix
 * socket in its temporary directory, so parallel test files never share a server or a port.
 * initdb and pg_ctl refuse to run as root; as root every server command runs as the `postgres`
 * OS user, who owns the directory.
 */
export class TestPostgres {
  readonly socketDir: string;
  private isRunning = false;
  private destroyed = false;
  private readonly onExit = (): void => this.stopSync();

  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly binDir: string,
  ) {
    this.socketDir = dir;
  }

  static async start(opts: TestPostgresOptions = {}): Promise<TestPostgres> {
    const binDir = postgresBinDir();
    const port = opts.port ?? 5432;
    const dir = await mkdtemp(join(opts.dir ?? "/tmp", "termhost-pg-"));
    const pgsql = new TestPostgres(dir, port, binDir);
    process.on("exit", pgsql.onExit);
    try {
      if (pgsql.socketPath.length > MAX_SOCKET_PATH) {
        throw new Error(
          `socket path ${pgsql.socketPath} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter dir`,
        );
      }
      if (asRoot()) {
        await chmod(dir, 0o700);
        await run("chown", ["postgres:", dir]);
      }
      await pgsql.pgCommand("initdb", [
        "-D",
        pgsql.dataDir,
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        "-E",
        "UTF8",
      ]);
      const fsync = opts.fsync ?? false;
      const settings: Record<string, string> = {
        listen_addresses: "",
        unix_socket_directories: dir,
        port: String(port),
        fsync: fsync ? "on" : "off",
        full_page_writes: fsync ? "on" : "off",
        max_connections: "200",
        log_min_messages: "warning",
        ...opts.settings,
      };
      // In postgresql.conf rather than pg_ctl -o: no shell quoting, and restart() reuses them.
      const lines = Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`);
      await appendFile(join(pgsql.dataDir, "postgresql.conf"), `\n# test harness\n${lines.join("\n")}\n`);
      await pgsql.pgCtlStart();
      return pgsql;
    } catch (e) {
      await pgsql.destroy().catch(() => undefined);
      throw e;
    }
  }

  get dataDir(): string {
    return join(this.dir, "data");
  }

  get logPath(): string {
    return join(this.dir, "log");
  }

  /** The server's socket file; a proxy's target. */
  get socketPath(): string {
    return join(this.socketDir, `.s.PGSQL.${this.port}`);
  }

  get running(): boolean {
    return this.isRunning;
  }

  /** A URL pg accepts for the unix socket: an empty host, the socket directory as `host`. */
  connectionString(db = "postgres"): string {
    return `postgresql://postgres@/${encodeURIComponent(db)}?host=${encodeURIComponent(this.socketDir)}&port=${this.port}`;
  }

  clientConfig(db = "postgres"): pg.ClientConfig {
    return { host: this.socketDir, port: this.port, user: "postgres", database: db };
  }

  async createDatabase(name: string): Promise<void> {
    await this.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  }

  /** One query on a connection of its own. */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
    db = "postgres",
  ): Promise<R[]> {
    const client = new pg.Client({ ...this.clientConfig(db), application_name: "termhost-test-postgres" });
    // A server that dies mid-query must fail the query, not crash the test on an unhandled 'error'.
    client.on("error", () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The postmaster's pid while its pid file exists. */
  postmasterPid(): number | undefined {
    try {
      const first = readFileSync(join(this.dataDir, "postmaster.pid"), "utf8").split("\n")[0];
      const pid = Number(first);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async readLog(): Promise<string> {
    return readFile(this.logPath, "utf8").catch(() => "");
  }

  /** Like a crash: no checkpoint, so the next start runs recovery from the WAL. */
  async stopImmediate(): Promise<void> {
    await this.pgCtl(["stop", "-D", this.dataDir, "-m", "immediate", "-w", "-t", "30"]);
    this.isRunning = false;
  }

  async stop(): Promise<void> {
    await this.pgCtl(["stop", "-D", this.dataDir, "-m", "fast", "-w", "-t", "30"]);
    this.isRunning = false;
  }

  /** Starts again on the same data directory; after stopImmediate() that start is a recovery. */
  async restart(): Promise<void> {
    if (this.isRunning) await this.stop();
    await this.pgCtlStart();
  }

  /**
   * Ends client backends other than the caller's, waiting until each is gone, and returns how many
   * it ended. The clients see FATAL 57P01 (admin_shutdown) and a closed socket.
   */
  async terminateBackends(filter: { applicationName?: string } = {}): Promise<number> {
    const byName = filter.applicationName !== undefined;
    const rows = await this.query<{ n: number }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))::int AS n
         FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'${byName ? " AND application_name = $1" : ""}`,
      byName ? [filter.applicationName] : [],
    );
    return rows[0]?.n ?? 0;
  }

  /** Stops the server and removes its directory; safe to call more than once. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    process.off("exit", this.onExit);
    if (this.isRunning || this.postmasterPid() !== undefined) {
      try {
        await this.stopImmediate();
      } catch {
        this.killPostmaster();
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async pgCtlStart(): Promise<void> {
    await this.pgCtl(["start", "-D", this.dataDir, "-w", "-t", "30", "-l", this.logPath]);
    this.isRunning = true;
  }

  private async pgCtl(args: string[]): Promise<void> {
    await this.pgCommand("pg_ctl", args);
  }

  /** Runs a server binary as the cluster's owner; a failure carries its stderr and the log's tail. */
  private async pgCommand(binary: string, args: string[]): Promise<string> {
    const [command, argv] = this.asOwner(join(this.binDir, binary), args);
    try {
      // cwd inside the cluster dir: the postgres user may not be able to read the caller's cwd.
      const { stdout } = await run(command, argv, { cwd: this.dir, timeout: 60_000 });
      return stdout;
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string; stdout?: string };
      const output = `${err.stderr ?? ""}${err.stdout ?? ""}`.trim();
      const tail = (await this.readLog()).split("\n").slice(-20).join("\n").trim();
      throw new Error(
        `${binary} ${args.join(" ")} failed: ${output || err.message}${tail ? `\n--- server log tail ---\n${tail}` : ""}`,
        { cause: e },
      );
    }
  }

  private asOwner(command: string, args: string[]): [string, string[]] {
    return asRoot() ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
  }

  /** The 'exit' handler's stop: a test that never called destroy() must not leave a server running. */
  private stopSync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    try {
      const [command, argv] = this.asOwner(join(this.binDir, "pg_ctl"), [
        "stop",
        "-D",
        this.dataDir,
        "-m",
        "immediate",
        "-w",
        "-t",
        "10",
      ]);
      execFileSync(command, argv, { cwd: this.dir, stdio: "ignore", timeout: 15_000 });
    } catch {
      this.killPostmaster();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Last resort when pg_ctl cannot stop the server; its backends exit on seeing the postmaster gone. */
  private killPostmaster(): void {
    const pid = this.postmasterPid();
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
    this.isRunning = false;
  }
}

function asRoot(): boolean {
  return process.getuid?.() === 0;
}
