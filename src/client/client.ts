import type { z } from "zod";
import { defaultAdminSocket, defaultApiSocket } from "../api/paths.js";
import { AdminSocketMethods, ApiMethods, EventNotification, type EventTopic } from "../api/schemas/index.js";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import { ReconnectingConnection, type ReconnectOptions } from "./connection.js";
import { EventStream, type EventStreamOptions } from "./event-stream.js";

type MethodTable = Record<string, { params: z.ZodType; result: z.ZodType }>;
type Params<T extends MethodTable, M extends keyof T> = z.input<T[M]["params"]>;
type Result<T extends MethodTable, M extends keyof T> = z.infer<T[M]["result"]>;

export interface ClientOptions {
  socketPath?: string;
  /** Per-call deadline; a call without a reply by then fails with TIMEOUT. */
  timeoutMs?: number;
  /** Reconnect with back-off after the connection is lost (default on); false to fail for good. */
  reconnect?: ReconnectOptions | false;
}

/**
 * Typed client over one reconnecting connection. Every result is validated against the same schema
 * the daemon answers with, so a client never acts on a reply it does not understand. Errors are
 * `TermhostError`s: switch on `code`.
 */
class BaseClient<T extends MethodTable> {
  private readonly streams = new Set<EventStream>();
  /** How many open streams want each topic: the daemon-side subscription is their union. */
  private readonly wanted = new Map<EventTopic, number>();

  protected constructor(
    private readonly conn: ReconnectingConnection,
    private readonly methods: T,
    readonly socketPath: string,
  ) {
    conn.on("notification", (method, params) => this.onNotification(method, params));
    conn.on("reconnected", () => this.onReconnected());
  }

  protected static openConnection(
    options: ClientOptions,
    fallbackPath: string,
  ): Promise<ReconnectingConnection> {
    return ReconnectingConnection.open({
      socketPath: options.socketPath ?? fallbackPath,
      timeoutMs: options.timeoutMs ?? 10_000,
      reconnect: options.reconnect ?? {},
    });
  }

  get connected(): boolean {
    return this.conn.connected;
  }

  async call<M extends keyof T & string>(
    method: M,
    params: Params<T, M>,
    timeoutMs?: number,
  ): Promise<Result<T, M>> {
    const raw = await this.conn.call(method, params, timeoutMs);
    const spec = this.methods[method] as T[M];
    const parsed = spec.result.safeParse(raw);
    if (!parsed.success) {
      throw new TermhostError(
        "INTERNAL",
        `the daemon's reply to ${method} does not match this client's schema`,
        {
          hint: "client and daemon versions differ; use the client library of the daemon's version",
          context: { problems: formatZodIssues(parsed.error, "result") },
        },
      );
    }
    return parsed.data as Result<T, M>;
  }

  /**
   * Events on `topics`, as an async iterable. Subscribes now, renews the subscription after every
   * reconnect (yielding a `gap` item), and unsubscribes when the loop ends or `signal` aborts.
   */
  events(topics: readonly EventTopic[], options: EventStreamOptions = {}): EventStream {
    const stream = new EventStream(new Set(topics), options, (s) => this.release(s));
    this.streams.add(stream);
    const fresh: EventTopic[] = [];
    for (const t of stream.topics) {
      const n = this.wanted.get(t) ?? 0;
      if (n === 0) fresh.push(t);
      this.wanted.set(t, n + 1);
    }
    if (fresh.length > 0) {
      this.call("events.subscribe", { topics: fresh } as Params<T, "events.subscribe">).catch(
        (e: unknown) => {
          // A lost connection is renewed by the reconnect; anything else is this stream's failure.
          if (!(e instanceof TermhostError && e.code === "DAEMON_UNREACHABLE")) stream.fail(e as Error);
        },
      );
    }
    return stream;
  }

  close(): void {
    for (const s of [...this.streams]) void s.return();
    this.conn.close();
  }

  private release(stream: EventStream): void {
    if (!this.streams.delete(stream)) return;
    const gone: EventTopic[] = [];
    for (const t of stream.topics) {
      const n = (this.wanted.get(t) ?? 1) - 1;
      if (n <= 0) {
        this.wanted.delete(t);
        gone.push(t);
      } else this.wanted.set(t, n);
    }
    if (gone.length > 0 && this.conn.connected) {
      this.call("events.unsubscribe", { topics: gone } as Params<T, "events.unsubscribe">).catch(() => {
        // the connection is going or gone; the daemon forgets its subscriptions with it
      });
    }
  }

  private onNotification(method: string, params: unknown): void {
    if (method === "events.dropped") {
      for (const s of this.streams) s.push({ type: "gap", reason: "dropped" });
      return;
    }
    if (method !== "event") return;
    const note = EventNotification.safeParse(params);
    if (!note.success) return;
    for (const s of this.streams) {
      if (s.topics.has(note.data.topic)) s.push({ type: "event", ...note.data });
    }
  }

  private onReconnected(): void {
    for (const s of this.streams) s.push({ type: "gap", reason: "reconnected" });
    const topics = [...this.wanted.keys()];
    if (topics.length === 0) return;
    this.call("events.subscribe", { topics } as Params<T, "events.subscribe">).catch(() => {
      // lost again before the reply: the next reconnect renews it
    });
  }
}

/** Client of the kiosk/POS socket (api.sock). */
export class TermhostClient extends BaseClient<typeof ApiMethods> {
  static async connect(options: ClientOptions = {}): Promise<TermhostClient> {
    const socketPath = options.socketPath ?? defaultApiSocket();
    const conn = await BaseClient.openConnection(options, socketPath);
    return new TermhostClient(conn, ApiMethods, socketPath);
  }

  status(): Promise<Result<typeof ApiMethods, "system.status">> {
    return this.call("system.status", {});
  }
}

/** Client of the technician's socket (admin.sock): every kiosk method and the admin methods. */
export class AdminClient extends BaseClient<typeof AdminSocketMethods> {
  static async connect(options: ClientOptions = {}): Promise<AdminClient> {
    const socketPath = options.socketPath ?? defaultAdminSocket();
    const conn = await BaseClient.openConnection(options, socketPath);
    return new AdminClient(conn, AdminSocketMethods, socketPath);
  }

  status(): Promise<Result<typeof AdminSocketMethods, "system.status">> {
    return this.call("system.status", {});
  }
}
