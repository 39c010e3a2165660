import { randomBytes, timingSafeEqual } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "pino";
import { type ApiLimits, type ApiServices, createAdminServer } from "../api/api-server.js";
import type { AdminServices } from "../api/handlers/admin.js";
import type { ConsoleLogin, ConsoleServices } from "../api/handlers/console.js";
import { PROTOCOL } from "../client/browser-client.js";
import type { RpcServer } from "../jsonrpc/server.js";
import type { Metrics } from "../metrics/metrics.js";
import { projectRoot } from "../util/paths.js";
import { TicketBook } from "./tickets.js";
import { pageFiles, pageModules } from "./ui-files.js";
import { WebListener } from "./web-listener.js";

export interface ConsoleSettings {
  port: number;
  origin: string;
  maxConnections: number;
  ticketTtlMs: number;
  sessionTtlMs: number;
  /** The bearer token GET /metrics wants. */
  metricsToken: string;
}

export interface TechnicianConsole extends ConsoleLogin {
  readonly rpc: RpcServer;
  readonly port: number;
  close(): Promise<void>;
}

const COOKIE = "termhost_console";
const MAX_SESSIONS = 16;

/**
 * The technician console: a server of the admin role (createAdminServer, as admin.sock), reached
 * from its page by WebSocket with a session cookie. A session starts from a login ticket that only
 * an admin.sock client can get (admin.console.ticket: `termhost console`), so the console is open
 * to exactly whoever may open admin.sock. /metrics wants the bearer token from the admin-only file.
 */
export async function startConsole(
  s: ConsoleSettings,
  limits: ApiLimits,
  services: ApiServices & AdminServices & ConsoleServices,
  metrics: Metrics,
  log: Logger,
): Promise<TechnicianConsole> {
  const rpc = createAdminServer(
    { ...limits, maxConnections: s.maxConnections },
    { ...services, log: services.log.child({ listener: "console" }) },
  );
  const tickets = new TicketBook(s.ticketTtlMs, 8);
  const sessions = new Map<string, number>();
  const session = (cookieHeader: string | undefined): boolean => {
    const sid = parseCookie(cookieHeader, COOKIE);
    const exp = sid === undefined ? undefined : sessions.get(sid);
    return exp !== undefined && Date.now() < exp;
  };
  const uiDir = join(projectRoot(), "src", "web", "console");
  const modules = pageModules(["src/client/browser-client.js"]);
  const token = Buffer.from(s.metricsToken);
  const listener = new WebListener({
    log: log.child({ listener: "console" }),
    port: s.port,
    origin: s.origin,
    maxPayload: limits.maxLineBytes,
    rpc,
    files: new Map([...pageFiles(uiDir), ...modules.files]),
    page: { file: join(uiDir, "index.html"), importMap: modules.importMap },
    routes: new Map([
      [
        "/session",
        {
          method: "POST",
          requireOrigin: true,
          handle: ({ body }) => {
            let ticket: unknown;
            try {
              ticket = (JSON.parse(body.toString("utf8")) as { ticket?: unknown }).ticket;
            } catch {
              ticket = undefined;
            }
            if (typeof ticket !== "string" || !tickets.redeem(ticket, Date.now())) {
              return {
                status: 401,
                type: "text/plain; charset=utf-8",
                body: "ticket unknown, used or expired\n",
              };
            }
            const now = Date.now();
            for (const [k, exp] of sessions) if (exp <= now) sessions.delete(k);
            while (sessions.size >= MAX_SESSIONS) {
              const oldest = sessions.keys().next().value;
              if (oldest === undefined) break;
              sessions.delete(oldest);
            }
            const sid = randomBytes(32).toString("base64url");
            sessions.set(sid, now + s.sessionTtlMs);
            return {
              status: 204,
              body: "",
              headers: {
                "Set-Cookie": `${COOKIE}=${sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(s.sessionTtlMs / 1000)}`,
              },
            };
          },
        },
      ],
      [
        "/metrics",
        {
          method: "GET",
          requireOrigin: false,
          handle: async ({ req }) => {
            const auth = req.headers.authorization ?? "";
            const given = Buffer.from(auth.startsWith("Bearer ") ? auth.slice(7) : "");
            const ok = given.length === token.length && timingSafeEqual(given, token);
            if (!ok && !session(req.headers.cookie)) {
              return { status: 401, type: "text/plain; charset=utf-8", body: "bearer token required\n" };
            }
            return { status: 200, type: metrics.contentType, body: await metrics.text() };
          },
        },
      ],
    ]),
    authorizeUpgrade: (req, offered) => {
      if (!offered.has(PROTOCOL) || !session(req.headers.cookie)) return { refuse: "Unauthorized" };
      return { protocol: PROTOCOL };
    },
  });
  await listener.listen();
  log.info({ port: listener.boundPort, origin: s.origin }, "serving the technician console");
  return {
    rpc,
    get port() {
      return listener.boundPort;
    },
    issue() {
      const t = tickets.issue(Date.now());
      return { url: `${s.origin}/#${t.ticket}`, expiresAt: new Date(t.expiresAt).toISOString() };
    },
    async close() {
      await listener.close();
      await rpc.close();
    },
  };
}

function parseCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === name && v !== undefined && v.length > 0) return v;
  }
  return undefined;
}
