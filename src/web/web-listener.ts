import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import type { RpcServer } from "../jsonrpc/server.js";
import { guard } from "./guard.js";
import { webSocketLines } from "./ws-lines.js";

/** What every response carries: nothing cached, nothing framed, no CORS or Private-Network allowances. */
const BASE_HEADERS: Record<string, string> = {
  "Cache-Control": "no-store",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Resource-Policy": "same-origin",
};

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
};

export interface WebRequest {
  req: http.IncomingMessage;
  url: URL;
  /** The body, at most `maxBodyBytes` (larger requests are refused with 413 before this runs). */
  body: Buffer;
}

export interface WebReply {
  status: number;
  type?: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

export interface Route {
  method: "GET" | "POST";
  /** Anything that acts (tickets, sessions) needs the exact Origin as well as a loopback Host. */
  requireOrigin: boolean;
  handle(r: WebRequest): WebReply | Promise<WebReply>;
}

export interface WebListenerOptions {
  log: Logger;
  port: number;
  origin: string;
  /** Largest WebSocket frame; a bigger one closes the connection (1009). */
  maxPayload: number;
  maxBodyBytes?: number;
  /** Connections served with the role, limits and methods of this server. */
  rpc: RpcServer;
  /** Files served as they are (URL path → file), read once at start-up. */
  files: ReadonlyMap<string, string>;
  /** The page, with the import map the module files need put in its head. */
  page: { file: string; importMap: Record<string, string> };
  routes: ReadonlyMap<string, Route>;
  /** Decides a WebSocket upgrade that passed Host and Origin; returns the subprotocol to answer or a refusal. */
  authorizeUpgrade(
    req: http.IncomingMessage,
    offered: Set<string>,
  ): { protocol: string } | { refuse: string };
}

interface Asset {
  type: string;
  body: Buffer;
}

/**
 * A loopback HTTP + WebSocket listener for one role. Every request passes the Host check, every
 * upgrade and acting route the Origin check too (guard.ts); a WebSocket that passes is one more
 * connection of `rpc`, with its dispatch, limits and role. Only files named at start-up are served.
 */
export class WebListener {
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly assets = new Map<string, Asset>();
  private readonly csp: string;
  private readonly chosen = new WeakMap<http.IncomingMessage, string>();
  private port: number;

  constructor(private readonly opts: WebListenerOptions) {
    this.port = opts.port;
    const map = JSON.stringify({ imports: opts.page.importMap });
    const mapScript = `<script type="importmap">${map}</script>`;
    const hash = createHash("sha256").update(map).digest("base64");
    this.csp = [
      "default-src 'none'",
      `script-src 'self' 'sha256-${hash}'`,
      "style-src 'self'",
      "img-src 'self'",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join("; ");
    const html = readFileSync(opts.page.file, "utf8").replace("<head>", `<head>\n${mapScript}`);
    this.assets.set("/", { type: TYPES.html as string, body: Buffer.from(html) });
    for (const [path, file] of opts.files) {
      const ext = file.slice(file.lastIndexOf(".") + 1);
      const type = TYPES[ext];
      if (type === undefined) throw new Error(`${file}: no content type for .${ext}`);
      this.assets.set(path, { type, body: readFileSync(file) });
    }
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayload,
      perMessageDeflate: false,
      clientTracking: false,
      // The subprotocol was chosen when the upgrade was authorized (a ticket is redeemed only once).
      handleProtocols: (_protocols, req) => this.chosen.get(req) ?? false,
    });
    this.server = http.createServer((req, res) => void this.onRequest(req, res));
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 15_000;
    this.server.maxHeadersCount = 64;
    this.server.maxConnections = 64;
    this.server.on("upgrade", (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on("clientError", (_err, socket) => socket.destroy());
  }

  get boundPort(): number {
    return this.port;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: "127.0.0.1", port: this.opts.port }, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const addr = this.server.address();
    if (addr !== null && typeof addr === "object") this.port = addr.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private headers(type: string): Record<string, string> {
    return { ...BASE_HEADERS, "Content-Type": type, "Content-Security-Policy": this.csp };
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.on("error", () => {});
    const reply = (r: WebReply): void => {
      res.writeHead(r.status, { ...this.headers(r.type ?? TYPES.html ?? ""), ...r.headers });
      res.end(req.method === "HEAD" ? undefined : r.body);
    };
    const refuse = (status: number, reason: string): void => {
      reply({ status, type: "text/plain; charset=utf-8", body: `${reason}\n` });
    };
    try {
      const url = new URL(req.url ?? "/", "http://loopback.invalid");
      const route = this.opts.routes.get(url.pathname);
      const verdict = guard(req.headers, this.port, this.opts.origin, route?.requireOrigin ?? false);
      if (!verdict.ok) {
        this.opts.log.info({ path: url.pathname, reason: verdict.reason }, "web request refused");
        refuse(verdict.status, verdict.reason);
        return;
      }
      if (route !== undefined) {
        if (req.method !== route.method) return refuse(405, "method not allowed");
        const body = await readBody(req, this.opts.maxBodyBytes ?? 4096);
        if (body === undefined) return refuse(413, "request body too large");
        reply(await route.handle({ req, url, body }));
        return;
      }
      const asset = this.assets.get(url.pathname);
      if (asset === undefined) return refuse(404, "not found");
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(405, "method not allowed");
      reply({ status: 200, type: asset.type, body: asset.body });
    } catch (e) {
      this.opts.log.warn({ err: e }, "web request failed");
      if (!res.headersSent) refuse(500, "internal error");
      else res.destroy();
    }
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => {});
    const path = new URL(req.url ?? "/", "http://loopback.invalid").pathname;
    const verdict = guard(req.headers, this.port, this.opts.origin, true);
    let refusal: string | undefined;
    if (path !== "/ws") refusal = "404 Not Found";
    else if (!verdict.ok)
      refusal = `${verdict.status} ${verdict.status === 421 ? "Misdirected Request" : "Forbidden"}`;
    else {
      const offered = parseProtocols(req.headers["sec-websocket-protocol"]);
      const auth = this.opts.authorizeUpgrade(req, offered);
      if ("refuse" in auth) refusal = `401 ${auth.refuse}`;
      else this.chosen.set(req, auth.protocol);
    }
    if (refusal !== undefined) {
      this.opts.log.info(
        { path, refusal, reason: verdict.ok ? undefined : verdict.reason },
        "upgrade refused",
      );
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.opts.rpc.serve(webSocketLines(ws)));
  }
}

function parseProtocols(header: string | undefined): Set<string> {
  return new Set(
    (header ?? "")
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p.length > 0),
  );
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        resolve(undefined);
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}
