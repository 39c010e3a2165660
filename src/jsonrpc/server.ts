import { chmodSync, unlinkSync } from "node:fs";
import net from "node:net";
import type { Logger } from "pino";
import type { z } from "zod";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import { toErrorObject } from "./errors.js";
import { LineSplitter } from "./lines.js";
import { RequestEnvelope, type RequestId } from "./messages.js";

export interface MethodSpec<P extends z.ZodType, R extends z.ZodType> {
  params: P;
  result: R;
  description: string;
}

export interface Connection {
  readonly id: number;
  notify(method: string, params: unknown): void;
  onClose(fn: () => void): void;
}

export type Handler<P extends z.ZodType, R extends z.ZodType> = (
  params: z.infer<P>,
  conn: Connection,
) => Promise<z.infer<R>> | z.infer<R>;

interface Registered {
  spec: MethodSpec<z.ZodType, z.ZodType>;
  handler: Handler<z.ZodType, z.ZodType>;
}

export interface RpcServerOptions {
  log: Logger;
  maxLineBytes: number;
  maxConnections: number;
  maxInFlightPerConnection: number;
  /** A client that lets this much output pile up unread is dropped rather than grow our memory. */
  maxBufferedBytes: number;
}

export class RpcServer {
  private readonly methods = new Map<string, Registered>();
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private nextConnId = 1;

  constructor(private readonly opts: RpcServerOptions) {}

  register<P extends z.ZodType, R extends z.ZodType>(
    name: string,
    spec: MethodSpec<P, R>,
    handler: Handler<P, R>,
  ): void {
    this.methods.set(name, {
      spec: spec as MethodSpec<z.ZodType, z.ZodType>,
      handler: handler as Handler<z.ZodType, z.ZodType>,
    });
  }

  /** Listens on a socket path (replacing a stale socket file) and applies the file mode. */
  async listenPath(path: string, mode: number): Promise<void> {
    try {
      unlinkSync(path);
    } catch {
      // nothing to replace
    }
    const server = this.makeServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    chmodSync(path, mode);
  }

  /** Serves an already-listening socket handed over by the service manager. */
  async listenFd(fd: number): Promise<void> {
    const server = this.makeServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ fd }, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  }

  private makeServer(): net.Server {
    const server = net.createServer((socket) => this.accept(socket));
    server.maxConnections = this.opts.maxConnections;
    this.servers.push(server);
    return server;
  }

  private accept(socket: net.Socket): void {
    const log = this.opts.log.child({ conn: this.nextConnId });
    const closeHandlers: Array<() => void> = [];
    const splitter = new LineSplitter(this.opts.maxLineBytes);
    let inFlight = 0;
    const send = (msg: object): void => {
      if (socket.destroyed) return;
      if (socket.writableLength > this.opts.maxBufferedBytes) {
        log.warn({ buffered: socket.writableLength }, "client reads too slowly; dropping it");
        socket.destroy();
        return;
      }
      socket.write(`${JSON.stringify(msg)}\n`);
    };
    const conn: Connection = {
      id: this.nextConnId++,
      notify: (method, params) => send({ jsonrpc: "2.0", method, params }),
      onClose: (fn) => closeHandlers.push(fn),
    };
    this.sockets.add(socket);
    socket.on("close", () => {
      this.sockets.delete(socket);
      for (const fn of closeHandlers) fn();
    });
    socket.on("error", (err) => log.debug({ err }, "client socket error"));
    socket.on("data", (chunk: Buffer) => {
      for (const ev of splitter.push(chunk)) {
        if (ev.kind === "overflow") {
          log.warn({ bytes: ev.bytes, limit: this.opts.maxLineBytes }, "client sent an oversized line");
          const err = new TermhostError(
            "LINE_TOO_LONG",
            `request line exceeds ${this.opts.maxLineBytes} bytes`,
            {
              hint: "send one JSON-RPC object per line, smaller than the limit",
            },
          );
          send({ jsonrpc: "2.0", id: null, error: toErrorObject(err) });
          socket.end();
          socket.destroySoon();
          return;
        }
        if (inFlight >= this.opts.maxInFlightPerConnection) {
          send({
            jsonrpc: "2.0",
            id: null,
            error: toErrorObject(
              new TermhostError("BUSY", "too many requests in flight on this connection", {
                hint: `wait for replies; at most ${this.opts.maxInFlightPerConnection} at a time`,
              }),
            ),
          });
          continue;
        }
        inFlight++;
        void this.handleLine(ev.text, conn, log)
          .then((reply) => {
            if (reply !== undefined) send(reply);
          })
          .finally(() => {
            inFlight--;
          });
      }
    });
  }

  private async handleLine(text: string, conn: Connection, log: Logger): Promise<object | undefined> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return errorReply(
        null,
        new TermhostError("PARSE_ERROR", "request is not valid JSON", {
          hint: "send one JSON-RPC 2.0 object per line",
        }),
      );
    }
    const env = RequestEnvelope.safeParse(raw);
    if (!env.success) {
      const id = pickId(raw);
      return errorReply(
        id,
        new TermhostError("INVALID_REQUEST", "not a JSON-RPC 2.0 request", {
          hint: "a request is {jsonrpc:'2.0', id, method, params}",
          context: { problems: formatZodIssues(env.error) },
        }),
      );
    }
    const { id, method, params } = env.data;
    const reg = this.methods.get(method);
    if (reg === undefined) {
      return id === undefined
        ? undefined
        : errorReply(
            id,
            new TermhostError("METHOD_NOT_FOUND", `no method '${method}' on this socket`, {
              hint: "see docs/api.md for the methods each socket offers",
            }),
          );
    }
    const parsed = reg.spec.params.safeParse(params ?? {});
    if (!parsed.success) {
      return id === undefined
        ? undefined
        : errorReply(
            id,
            new TermhostError("INVALID_PARAMS", `invalid params for ${method}`, {
              hint: formatZodIssues(parsed.error, "params").join("; "),
              context: { problems: formatZodIssues(parsed.error, "params") },
            }),
          );
    }
    try {
      const result = reg.spec.result.parse(await reg.handler(parsed.data, conn));
      return id === undefined ? undefined : { jsonrpc: "2.0", id, result };
    } catch (e) {
      if (!(e instanceof TermhostError)) log.error({ err: e, method }, "method failed unexpectedly");
      return id === undefined ? undefined : errorReply(id, e);
    }
  }
}

function errorReply(id: RequestId | null, e: unknown): object {
  return { jsonrpc: "2.0", id, error: toErrorObject(e) };
}

function pickId(raw: unknown): RequestId | null {
  if (typeof raw === "object" && raw !== null && "id" in raw) {
    const id = (raw as { id: unknown }).id;
    if (typeof id === "string" && id.length <= 200) return id;
    if (typeof id === "number" && Number.isInteger(id)) return id;
  }
  return null;
}
