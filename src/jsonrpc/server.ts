import { chmodSync, chownSync, lstatSync, mkdtempSync, renameSync, rmSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { z } from "zod";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import { toErrorObject } from "./errors.js";
import { LineSplitter } from "./lines.js";
import { RequestEnvelope, type RequestId } from "./messages.js";
import { BreachLog, TokenBucket } from "./rate-limit.js";

export interface MethodSpec<P extends z.ZodType, R extends z.ZodType> {
  params: P;
  result: R;
  description: string;
}

export interface Connection {
  readonly id: number;
  notify(method: string, params: unknown): void;
  /**
   * Sends a message that is already one JSON text (no newline), for one encoded once and sent to
   * many connections.
   */
  sendEncoded(json: string): void;
  onClose(fn: () => void): void;
  /** Bytes written to the socket that the peer has not read yet. */
  readonly writableLength: number;
  /** Called each time the socket's output buffer empties. */
  onDrain(fn: () => void): void;
  /** Flushes what is buffered, then closes; a peer that does not read is cut off after `graceMs`. */
  close(graceMs?: number): void;
  readonly closed: boolean;
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
  /** Further connections get one TOO_MANY_CONNECTIONS error line and are closed. */
  maxConnections: number;
  maxInFlightPerConnection: number;
  /** A client that lets this much output pile up unread is dropped rather than grow our memory. */
  maxBufferedBytes: number;
  /** Requests per second per connection (token bucket); absent means unlimited. */
  rateLimit?: { perSecond: number; burst: number };
}

export interface SocketAccess {
  mode: number;
  /** Group id the socket file is given; absent leaves the daemon's own group. */
  gid?: number;
}

/** How long a closing connection may take to read its last lines before it is cut off. */
const CLOSE_GRACE_MS = 2000;

type Reply = object | undefined;

export class RpcServer {
  private readonly methods = new Map<string, Registered>();
  private readonly denied = new Map<string, () => TermhostError>();
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<Duplex>();
  private readonly onClose: Array<() => void> = [];
  private nextConnId = 1;
  private refusedConnections = 0;
  private lastRefusalLog = 0;

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

  /**
   * Names a method this socket knows of but refuses, with the error to answer (e.g. UNAUTHORIZED for
   * a technician's method called on the kiosk socket), so a caller learns where it belongs instead
   * of being told it does not exist.
   */
  deny(name: string, error: () => TermhostError): void {
    this.denied.set(name, error);
  }

  methodNames(): string[] {
    return [...this.methods.keys()];
  }

  /**
   * Listens on a socket path (replacing a stale socket file) with its mode and group. bind()
   * creates the file with the umask's mode, wider than ours: so it is bound in a fresh 0700
   * directory beside `path`, given its mode and group there, and renamed into place, which is
   * atomic and on the same file system. Until then nobody else can reach it; from then on it has
   * its mode. (A restrictive umask around listen() would do the same, but the umask is the whole
   * process's: the thread pool creating journal files at that instant would get it too.)
   */
  async listenPath(path: string, modeOrAccess: number | SocketAccess): Promise<void> {
    const access = typeof modeOrAccess === "number" ? { mode: modeOrAccess } : modeOrAccess;
    // A short name: the bound path must stay within sun_path's 107 bytes.
    const staging = mkdtempSync(join(dirname(path), "."));
    const bound = join(staging, "s");
    const server = this.makeServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(bound, () => {
          server.off("error", reject);
          resolve();
        });
      });
      if (access.gid !== undefined) chownSync(bound, -1, access.gid);
      chmodSync(bound, access.mode);
      renameSync(bound, path);
    } catch (e) {
      server.close();
      throw e;
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    // The server would unlink the name it was bound to, which is gone: the file at `path` is ours
    // to remove, unless another daemon has put its own socket there since.
    const { ino } = lstatSync(path);
    this.onClose.push(() => {
      try {
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        // already gone
      }
    });
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

  get connectionCount(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
    for (const fn of this.onClose.splice(0)) fn();
  }

  /**
   * Serves one connection that arrives by another road than this server's own listeners (the
   * browser gateway's WebSockets, as newline-delimited lines): the same limits, dispatch and role.
   */
  serve(stream: Duplex): void {
    this.accept(stream);
  }

  private makeServer(): net.Server {
    const server = net.createServer((socket) => this.accept(socket));
    this.servers.push(server);
    return server;
  }

  /** The peer over the limit hears why, once, instead of seeing a silent reset. */
  private refuse(socket: Duplex): void {
    this.refusedConnections++;
    const now = Date.now();
    if (now - this.lastRefusalLog >= 1000) {
      this.opts.log.warn(
        { limit: this.opts.maxConnections, refusedSinceLastLog: this.refusedConnections },
        "connection limit reached; refusing new connections",
      );
      this.refusedConnections = 0;
      this.lastRefusalLog = now;
    }
    const err = new TermhostError(
      "TOO_MANY_CONNECTIONS",
      `the daemon already serves ${this.opts.maxConnections} connections on this socket`,
      { hint: "close idle connections or share one; retry later" },
    );
    socket.on("error", () => {});
    socket.end(`${JSON.stringify({ jsonrpc: "2.0", id: null, error: toErrorObject(err) })}\n`);
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private accept(socket: Duplex): void {
    if (this.sockets.size >= this.opts.maxConnections) {
      this.refuse(socket);
      return;
    }
    const connId = this.nextConnId++;
    const log = this.opts.log.child({ conn: connId });
    const closeHandlers: Array<() => void> = [];
    const drainHandlers: Array<() => void> = [];
    const splitter = new LineSplitter(this.opts.maxLineBytes);
    const rate = this.opts.rateLimit;
    const bucket =
      rate === undefined ? undefined : new TokenBucket(rate.perSecond, rate.burst, performance.now());
    const breach = new BreachLog(
      () => log.warn({ perSecond: rate?.perSecond, burst: rate?.burst }, "client exceeds its request rate"),
      (refused) => log.info({ refused }, "client back under its request rate"),
    );
    let inFlight = 0;
    let closing = false;
    const finished = (): void => {
      inFlight--;
    };

    const closeSoon = (graceMs = CLOSE_GRACE_MS): void => {
      if (closing) return;
      closing = true;
      socket.end();
      setTimeout(() => socket.destroy(), graceMs).unref();
    };
    const sendEncoded = (json: string): void => {
      if (socket.destroyed || closing) return;
      if (socket.writableLength > this.opts.maxBufferedBytes) {
        log.warn({ buffered: socket.writableLength }, "client reads too slowly; dropping it");
        socket.destroy();
        return;
      }
      socket.write(`${json}\n`);
    };
    const send = (msg: object): void => {
      if (socket.destroyed || closing) return;
      sendEncoded(JSON.stringify(msg));
    };
    const conn: Connection = {
      id: connId,
      notify: (method, params) => send({ jsonrpc: "2.0", method, params }),
      sendEncoded,
      onClose: (fn) => closeHandlers.push(fn),
      get writableLength() {
        return socket.writableLength;
      },
      onDrain: (fn) => drainHandlers.push(fn),
      close: (graceMs) => closeSoon(graceMs),
      get closed() {
        return closing || socket.destroyed;
      },
    };
    this.sockets.add(socket);
    socket.on("close", () => {
      this.sockets.delete(socket);
      for (const fn of closeHandlers) fn();
    });
    socket.on("drain", () => {
      for (const fn of drainHandlers) fn();
    });
    socket.on("error", (err) => log.debug({ err }, "client socket error"));
    socket.on("data", (chunk: Buffer) => {
      for (const ev of splitter.push(chunk)) {
        if (closing) return;
        if (ev.kind === "overflow") {
          log.warn({ bytes: ev.bytes, limit: this.opts.maxLineBytes }, "client sent an oversized line");
          const err = new TermhostError(
            "LINE_TOO_LONG",
            `request line exceeds ${this.opts.maxLineBytes} bytes`,
            { hint: "send one JSON-RPC object per line, smaller than the limit" },
          );
          send({ jsonrpc: "2.0", id: null, error: toErrorObject(err) });
          closeSoon();
          return;
        }
        if (bucket !== undefined && !bucket.take(performance.now())) {
          breach.refuse();
          const err = new TermhostError("RATE_LIMITED", "too many requests per second on this connection", {
            hint: `at most ${rate?.perSecond} requests per second (bursts of ${rate?.burst}); slow down and retry`,
          });
          send(errorReply(pickIdFromText(ev.text), err));
          continue;
        }
        breach.allow();
        const prepared = this.prepare(ev.text);
        if (prepared.kind === "reply") {
          if (prepared.reply !== undefined) send(prepared.reply);
          continue;
        }
        if (inFlight >= this.opts.maxInFlightPerConnection) {
          if (prepared.id === undefined) continue;
          send(
            errorReply(
              prepared.id,
              new TermhostError("BUSY", "too many requests in flight on this connection", {
                hint: `wait for replies; at most ${this.opts.maxInFlightPerConnection} at a time`,
              }),
            ),
          );
          continue;
        }
        inFlight++;
        void this.run(prepared, conn, log, send, finished);
      }
    });
  }

  /**
   * Everything that can be decided without running the method: parsing, the envelope, the method's
   * existence and its params. Such errors are answered at once and never count as in flight.
   */
  private prepare(
    text: string,
  ):
    | { kind: "reply"; reply: Reply }
    | { kind: "call"; id: RequestId | undefined; method: string; params: unknown; reg: Registered } {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return {
        kind: "reply",
        reply: errorReply(
          null,
          new TermhostError("PARSE_ERROR", "request is not valid JSON", {
            hint: "send one JSON-RPC 2.0 object per line",
          }),
        ),
      };
    }
    const env = RequestEnvelope.safeParse(raw);
    if (!env.success) {
      return {
        kind: "reply",
        reply: errorReply(
          pickId(raw),
          new TermhostError("INVALID_REQUEST", "not a JSON-RPC 2.0 request", {
            hint: "a request is {jsonrpc:'2.0', id, method, params}",
            context: { problems: formatZodIssues(env.error).slice(0, 10) },
          }),
        ),
      };
    }
    const { id, method, params } = env.data;
    const reg = this.methods.get(method);
    if (reg === undefined) {
      const denied = this.denied.get(method);
      if (denied !== undefined) return answer(id, denied());
      return answer(
        id,
        new TermhostError("METHOD_NOT_FOUND", `no method '${method}' on this socket`, {
          hint: "see docs/api.md for the methods each socket offers",
        }),
      );
    }
    const parsed = reg.spec.params.safeParse(params ?? {});
    if (!parsed.success) {
      const problems = formatZodIssues(parsed.error, "params").slice(0, 10);
      return answer(
        id,
        new TermhostError("INVALID_PARAMS", `invalid params for ${method}`, {
          hint: problems.join("; "),
          context: { problems },
        }),
      );
    }
    return { kind: "call", id, method, params: parsed.data, reg };
  }

  /**
   * Runs a prepared call and sends its reply. The hot path of every request: one async function,
   * with no promise chained after it.
   */
  private async run(
    call: { id: RequestId | undefined; method: string; params: unknown; reg: Registered },
    conn: Connection,
    log: Logger,
    send: (msg: object) => void,
    finished: () => void,
  ): Promise<void> {
    const { id, method, params, reg } = call;
    let reply: Reply;
    try {
      const result = reg.spec.result.parse(await reg.handler(params, conn));
      reply = id === undefined ? undefined : { jsonrpc: "2.0", id, result };
    } catch (e) {
      if (!(e instanceof TermhostError)) log.error({ err: e, method }, "method failed unexpectedly");
      reply = id === undefined ? undefined : errorReply(id, e);
    }
    finished();
    if (reply !== undefined) send(reply);
  }
}

/** A request refused before it ran; a notification (no id) gets no answer. */
function answer(id: RequestId | undefined, e: TermhostError): { kind: "reply"; reply: Reply } {
  return { kind: "reply", reply: id === undefined ? undefined : errorReply(id, e) };
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

/** A refused request is not worth a full parse, but its id is, so the client can match the refusal. */
function pickIdFromText(text: string): RequestId | null {
  if (text.length > 64 << 10) return null;
  try {
    return pickId(JSON.parse(text));
  } catch {
    return null;
  }
}
