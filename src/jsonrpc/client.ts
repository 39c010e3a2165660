import { EventEmitter } from "node:events";
import net from "node:net";
import { TermhostError } from "../errors/errors.js";
import { fromErrorObject } from "./errors.js";
import { LineSplitter } from "./lines.js";
import { NotificationEnvelope, ResponseEnvelope } from "./messages.js";

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface RpcClientOptions {
  timeoutMs?: number;
  maxLineBytes?: number;
}

/**
 * One JSON-RPC connection over a Unix socket. A pending call rejects with TIMEOUT after its deadline
 * and with DAEMON_UNREACHABLE when the connection closes under it.
 */
export class RpcClient extends EventEmitter<{ notification: [method: string, params: unknown]; close: [] }> {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly socket: net.Socket,
    private readonly path: string,
    private readonly timeoutMs: number,
    maxLineBytes: number,
  ) {
    super();
    const splitter = new LineSplitter(maxLineBytes);
    socket.on("data", (chunk: Buffer) => {
      for (const ev of splitter.push(chunk)) {
        if (ev.kind === "line") this.onLine(ev.text);
      }
    });
    socket.on("error", () => {
      // the close event that follows settles pending calls
    });
    socket.on("close", () => this.onClose());
  }

  static connect(path: string, options: RpcClientOptions = {}): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      socket.once("connect", () => {
        socket.removeAllListeners("error");
        resolve(new RpcClient(socket, path, options.timeoutMs ?? 10_000, options.maxLineBytes ?? 16 << 20));
      });
      socket.once("error", (err: NodeJS.ErrnoException) => {
        reject(
          new TermhostError("DAEMON_UNREACHABLE", `cannot connect to ${path} (${err.code ?? err.message})`, {
            hint: "is the daemon running? Start it with `make run` from a checkout or `systemctl start termhostd`; choose another socket with --socket",
            cause: err,
          }),
        );
      });
    });
  }

  call(method: string, params: unknown = {}, timeoutMs = this.timeoutMs): Promise<unknown> {
    if (this.closed) {
      return Promise.reject(new TermhostError("DAEMON_UNREACHABLE", `connection to ${this.path} is closed`));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TermhostError("TIMEOUT", `${method} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ jsonrpc: "2.0", id, method, params })}\n`);
    });
  }

  close(): void {
    this.socket.end();
    this.socket.destroySoon();
  }

  private onLine(text: string): void {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return;
    }
    // A reply has an id and a notification has none: each is checked against its own envelope
    // only, so that a reply does not first fail the notification's (a failed parse is not cheap).
    if (!(typeof raw === "object" && raw !== null && "id" in raw)) {
      const note = NotificationEnvelope.safeParse(raw);
      if (note.success) this.emit("notification", note.data.method, note.data.params);
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
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new TermhostError("DAEMON_UNREACHABLE", `connection to ${this.path} closed before the reply`));
      this.pending.delete(id);
    }
    this.emit("close");
  }
}
