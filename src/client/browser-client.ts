import type { z } from "zod";
import { AdminSocketMethods, ApiMethods, EventNotification } from "../api/schemas/index.js";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import { fromErrorObject } from "../jsonrpc/errors.js";
import { NotificationEnvelope, ResponseEnvelope } from "../jsonrpc/messages.js";

/**
 * The client library for a page in a browser, over the web listeners' WebSockets (docs/web.md):
 * the same method tables as the Unix-socket client, params checked before sending and results
 * after, errors rebuilt as TermhostError with their stable codes. It imports nothing of Node's, so
 * the web listeners serve it (and its schemas and zod) to the page as ES modules.
 */
type MethodTable = Record<string, { params: z.ZodType; result: z.ZodType }>;

/** The part of the browser's WebSocket used here (declared: the project compiles without DOM types). */
export interface BrowserSocket {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "close" | "error" | "message", fn: (ev: { data?: unknown }) => void): void;
}
export type SocketFactory = (url: string, protocols: string[]) => BrowserSocket;

/** The subprotocol every web listener speaks; a gateway ticket travels as a second one, never in the URL. */
export const PROTOCOL = "termhost.v1";
export const ticketProtocol = (ticket: string): string => `ticket.${ticket}`;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

export class BrowserClient<T extends MethodTable> {
  private readonly pending = new Map<number, Pending>();
  private readonly eventFns = new Set<(e: EventNotification) => void>();
  private readonly closeFns = new Set<() => void>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly methods: T,
    private readonly socket: BrowserSocket,
    private readonly timeoutMs: number,
  ) {
    socket.addEventListener("message", (ev) => this.onMessage(ev.data));
    socket.addEventListener("close", () => this.onClose());
  }

  static kiosk(url: string, protocols: string[], socket: SocketFactory, timeoutMs = 30_000) {
    return BrowserClient.open(ApiMethods, url, protocols, socket, timeoutMs);
  }

  static admin(url: string, protocols: string[], socket: SocketFactory, timeoutMs = 30_000) {
    return BrowserClient.open(AdminSocketMethods, url, protocols, socket, timeoutMs);
  }

  static open<T extends MethodTable>(
    methods: T,
    url: string,
    protocols: string[],
    socket: SocketFactory,
    timeoutMs: number,
  ): Promise<BrowserClient<T>> {
    return new Promise((resolve, reject) => {
      const ws = socket(url, protocols);
      let opened = false;
      ws.addEventListener("open", () => {
        opened = true;
        resolve(new BrowserClient(methods, ws, timeoutMs));
      });
      ws.addEventListener("close", () => {
        if (!opened)
          reject(
            new TermhostError("DAEMON_UNREACHABLE", `the daemon refused the WebSocket at ${url}`, {
              hint: "reload the page for a fresh ticket; see the daemon's log for why it refused",
            }),
          );
      });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  call<M extends keyof T & string>(
    method: M,
    params: z.input<T[M]["params"]>,
  ): Promise<z.infer<T[M]["result"]>> {
    const spec = this.methods[method] as T[M];
    const checked = spec.params.safeParse(params);
    if (!checked.success) {
      const problems = formatZodIssues(checked.error, "params");
      return Promise.reject(
        new TermhostError("INVALID_PARAMS", `invalid params for ${method}`, { hint: problems.join("; ") }),
      );
    }
    if (this.closed) {
      return Promise.reject(
        new TermhostError("DAEMON_UNREACHABLE", "the connection to the daemon is closed"),
      );
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TermhostError("TIMEOUT", `no reply to ${method} in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, {
        timer,
        reject,
        resolve: (raw) => {
          const parsed = spec.result.safeParse(raw);
          if (parsed.success) resolve(parsed.data as z.infer<T[M]["result"]>);
          else
            reject(
              new TermhostError(
                "INTERNAL",
                `the daemon's reply to ${method} does not match this page's schema`,
                {
                  context: { problems: formatZodIssues(parsed.error, "result") },
                },
              ),
            );
        },
      });
      this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params: checked.data }));
    });
  }

  /** Every `event` notification after events.subscribe, checked against its schema. */
  onEvent(fn: (e: EventNotification) => void): () => void {
    this.eventFns.add(fn);
    return () => this.eventFns.delete(fn);
  }

  whenClosed(fn: () => void): void {
    this.closeFns.add(fn);
  }

  close(): void {
    this.socket.close(1000);
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      return;
    }
    const note = NotificationEnvelope.safeParse(raw);
    if (note.success && !(typeof raw === "object" && raw !== null && "id" in raw)) {
      const ev = EventNotification.safeParse(note.data.params);
      if (note.data.method === "event" && ev.success) for (const fn of this.eventFns) fn(ev.data);
      return;
    }
    const res = ResponseEnvelope.safeParse(raw);
    if (!res.success || typeof res.data.id !== "number") return;
    const p = this.pending.get(res.data.id);
    if (p === undefined) return;
    this.pending.delete(res.data.id);
    clearTimeout(p.timer);
    if ("error" in res.data) p.reject(fromErrorObject(res.data.error));
    else p.resolve(res.data.result);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TermhostError("DAEMON_UNREACHABLE", "the connection to the daemon closed"));
    }
    this.pending.clear();
    for (const fn of this.closeFns) fn();
  }
}
