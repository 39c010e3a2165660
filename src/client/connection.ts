import { EventEmitter } from "node:events";
import { TermhostError } from "../errors/errors.js";
import { RpcClient } from "../jsonrpc/client.js";

export interface ReconnectOptions {
  /** First wait after the connection is lost; doubles on each failed attempt up to `maxMs`. */
  minMs?: number;
  maxMs?: number;
}

export interface ConnectionOptions {
  socketPath: string;
  timeoutMs: number;
  /** false: a lost connection stays lost and every later call fails with DAEMON_UNREACHABLE. */
  reconnect: ReconnectOptions | false;
}

type Events = {
  notification: [method: string, params: unknown];
  /** The connection was lost; calls wait for the next one (until their own deadline). */
  disconnected: [];
  /** A new connection is up (after a loss); subscriptions must be renewed on it. */
  reconnected: [];
};

/**
 * One logical connection to the daemon that outlives the daemon's restarts. Calls in flight when the
 * connection drops fail with DAEMON_UNREACHABLE and are never resent (the daemon may or may not have
 * acted on them); calls made while it is down wait for the next connection until their deadline.
 */
export class ReconnectingConnection extends EventEmitter<Events> {
  private rpc: RpcClient | undefined;
  private closed = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private waiters = new Set<() => void>();

  private constructor(private readonly opts: ConnectionOptions) {
    super();
    this.delay = this.minDelay;
  }

  /** Connects once; fails with DAEMON_UNREACHABLE when the daemon is not there. */
  static async open(opts: ConnectionOptions): Promise<ReconnectingConnection> {
    const conn = new ReconnectingConnection(opts);
    conn.adopt(await RpcClient.connect(opts.socketPath, { timeoutMs: opts.timeoutMs }));
    return conn;
  }

  get connected(): boolean {
    return this.rpc !== undefined;
  }

  async call(method: string, params: unknown, timeoutMs = this.opts.timeoutMs): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    const rpc = this.rpc ?? (await this.waitConnected(deadline, method));
    return rpc.call(method, params, Math.max(1, deadline - Date.now()));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.rpc?.close();
    this.rpc = undefined;
    for (const wake of this.waiters) wake();
  }

  private get minDelay(): number {
    return this.opts.reconnect === false ? 0 : (this.opts.reconnect.minMs ?? 50);
  }

  private adopt(rpc: RpcClient): void {
    this.rpc = rpc;
    this.delay = this.minDelay;
    rpc.on("notification", (method, params) => this.emit("notification", method, params));
    rpc.once("close", () => {
      if (this.rpc !== rpc) return;
      this.rpc = undefined;
      this.emit("disconnected");
      this.scheduleReconnect();
    });
    for (const wake of this.waiters) wake();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.opts.reconnect === false) return;
    const max = this.opts.reconnect.maxMs ?? 2000;
    // Jitter keeps a kiosk's many clients from reconnecting in lock-step after a daemon restart.
    const wait = this.delay * (0.75 + Math.random() * 0.5);
    this.delay = Math.min(this.delay * 2, max);
    this.timer = setTimeout(() => {
      RpcClient.connect(this.opts.socketPath, { timeoutMs: this.opts.timeoutMs }).then(
        (rpc) => {
          if (this.closed) {
            rpc.close();
            return;
          }
          this.adopt(rpc);
          this.emit("reconnected");
        },
        () => this.scheduleReconnect(),
      );
    }, wait);
  }

  private waitConnected(deadline: number, method: string): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const unreachable = (why: string): TermhostError =>
        new TermhostError("DAEMON_UNREACHABLE", `${method}: ${why}`, {
          hint: "is the daemon running? The client reconnects on its own when it comes back",
          context: { socketPath: this.opts.socketPath },
        });
      const check = (): boolean => {
        if (this.closed) {
          reject(unreachable("the client is closed"));
          return true;
        }
        if (this.rpc !== undefined) {
          resolve(this.rpc);
          return true;
        }
        if (this.opts.reconnect === false) {
          reject(unreachable("the connection to the daemon is lost"));
          return true;
        }
        return false;
      };
      if (check()) return;
      const wake = (): void => {
        if (check()) {
          clearTimeout(timer);
          this.waiters.delete(wake);
        }
      };
      const timer = setTimeout(
        () => {
          this.waiters.delete(wake);
          reject(unreachable(`no connection to the daemon within the call's deadline`));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.add(wake);
    });
  }
}
