import { join } from "node:path";
import type { Logger } from "pino";
import { type ApiLimits, type ApiServices, createApiServer } from "../api/api-server.js";
import { PROTOCOL } from "../client/browser-client.js";
import type { RpcServer } from "../jsonrpc/server.js";
import { TicketBook } from "./tickets.js";
import { pageFiles, pageModules } from "./ui-files.js";
import { WebListener } from "./web-listener.js";

export interface GatewaySettings {
  port: number;
  origin: string;
  uiDir: string;
  maxFrameBytes: number;
  maxConnections: number;
  ticketTtlMs: number;
}

export interface Gateway {
  readonly rpc: RpcServer;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The kiosk gateway: a second server of the kiosk role built by the very function that builds
 * api.sock's (same methods, schemas, errors, events; technician methods refused UNAUTHORIZED),
 * reached by WebSocket from the page it serves. A WebSocket needs a ticket from POST /ticket,
 * which only a same-origin script can read (no CORS headers are ever sent), good once, for
 * `ticketTtlMs`; it travels as a WebSocket subprotocol, never in the URL.
 */
export async function startGateway(
  s: GatewaySettings,
  limits: ApiLimits,
  services: ApiServices,
  log: Logger,
): Promise<Gateway> {
  const rpc = createApiServer(
    {
      ...limits,
      maxConnections: s.maxConnections,
      maxLineBytes: Math.min(limits.maxLineBytes, s.maxFrameBytes),
    },
    { ...services, log: services.log.child({ listener: "gateway" }) },
  );
  const tickets = new TicketBook(s.ticketTtlMs);
  const modules = pageModules(["src/client/browser-client.js"]);
  const files = new Map([...pageFiles(s.uiDir), ...modules.files]);
  const listener = new WebListener({
    log: log.child({ listener: "gateway" }),
    port: s.port,
    origin: s.origin,
    maxPayload: s.maxFrameBytes,
    rpc,
    files,
    page: { file: join(s.uiDir, "index.html"), importMap: modules.importMap },
    routes: new Map([
      [
        "/ticket",
        {
          method: "POST",
          requireOrigin: true,
          handle: () => {
            const t = tickets.issue(Date.now());
            return {
              status: 200,
              type: "application/json",
              body: JSON.stringify({ ticket: t.ticket, expiresAt: new Date(t.expiresAt).toISOString() }),
            };
          },
        },
      ],
    ]),
    authorizeUpgrade: (_req, offered) => {
      if (!offered.has(PROTOCOL)) return { refuse: "Unauthorized" };
      for (const p of offered) {
        if (p.startsWith("ticket.") && tickets.redeem(p.slice("ticket.".length), Date.now()))
          return { protocol: PROTOCOL };
      }
      return { refuse: "Unauthorized" };
    },
  });
  await listener.listen();
  log.info({ port: listener.boundPort, origin: s.origin }, "serving the kiosk gateway");
  return {
    rpc,
    get port() {
      return listener.boundPort;
    },
    async close() {
      await listener.close();
      await rpc.close();
    },
  };
}
