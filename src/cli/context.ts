import { dirname, join } from "node:path";
import type { Command } from "commander";
import { AdminClient, TermhostClient } from "../client/client.js";
import { TermhostError } from "../errors/errors.js";
import type { ExitCode } from "./exit-codes.js";

export interface GlobalOptions {
  socket: string;
  adminSocket?: string;
  json: boolean;
  timeout: string;
}

/** Ends the command with this exit code after its output is printed (a failed check, a pending batch). */
export class CliExit extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message = "",
  ) {
    super(message);
  }
}

/** What every command shares: the global options, the daemon's two sockets, and how to print. */
export class CliContext {
  constructor(private readonly program: Command) {}

  get opts(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  get json(): boolean {
    return this.opts.json;
  }

  get timeoutMs(): number {
    const ms = Number(this.opts.timeout);
    if (!Number.isInteger(ms) || ms <= 0) {
      throw new TermhostError("INVALID_PARAMS", `--timeout ${this.opts.timeout}: expected milliseconds`);
    }
    return ms;
  }

  /** admin.sock: --admin-socket, else $TERMHOST_ADMIN_SOCKET, else next to the API socket. */
  get adminSocket(): string {
    return (
      this.opts.adminSocket ??
      process.env.TERMHOST_ADMIN_SOCKET ??
      join(dirname(this.opts.socket), "admin.sock")
    );
  }

  async api<T>(fn: (c: TermhostClient) => Promise<T>, reconnect = false): Promise<T> {
    const client = await TermhostClient.connect({
      socketPath: this.opts.socket,
      timeoutMs: this.timeoutMs,
      reconnect: reconnect ? {} : false,
    });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  async admin<T>(fn: (c: AdminClient) => Promise<T>): Promise<T> {
    const client = await AdminClient.connect({
      socketPath: this.adminSocket,
      timeoutMs: this.timeoutMs,
      reconnect: false,
    }).catch((e: unknown) => {
      throw adminUnreachable(e, this.adminSocket);
    });
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  /** The result as JSON with --json, else the human text. */
  print(result: unknown, text: () => string): void {
    process.stdout.write(this.json ? `${JSON.stringify(result, null, 2)}\n` : `${text()}\n`);
  }

  /** A line of human progress; silent with --json so that stdout stays one JSON document. */
  note(text: string): void {
    if (!this.json) process.stderr.write(`${text}\n`);
  }
}

/** A refused admin socket is usually a permission, not a stopped daemon: say which. */
function adminUnreachable(e: unknown, path: string): unknown {
  if (!(e instanceof TermhostError) || e.code !== "DAEMON_UNREACHABLE") return e;
  if (!/EACCES|EPERM/.test(e.message)) return e;
  return new TermhostError("UNAUTHORIZED", e.message, {
    hint: `admin.sock (${path}) is for technicians: run as root or as a member of the admin socket's group`,
    context: { socketPath: path },
    cause: e,
  });
}
