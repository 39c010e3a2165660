import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import type { ApiLimits, ApiServices } from "../api/api-server.js";
import type { EventHub } from "../api/events.js";
import type { AdminServices } from "../api/handlers/admin.js";
import type { ConsoleServices } from "../api/handlers/console.js";
import { resolveGroup } from "../api/socket-group.js";
import type { RpcServer } from "../jsonrpc/server.js";
import { createMetrics, type Metrics } from "../metrics/metrics.js";
import { startConsole, type TechnicianConsole } from "../web/console.js";
import { type Gateway, startGateway } from "../web/gateway.js";
import type { Config } from "./config.js";
import { originOf } from "./web-config.js";

export interface WebParts {
  gateway?: Gateway;
  console?: TechnicianConsole;
  metrics: Metrics;
  close(): Promise<void>;
}

/**
 * The browser-facing listeners and the metrics (docs/web.md), each opt-in: the kiosk gateway
 * (kiosk role) and the technician console with /metrics (admin role).
 */
export async function startWeb(
  config: Config,
  limits: ApiLimits,
  services: ApiServices & AdminServices & ConsoleServices,
  sockets: { api: RpcServer; admin: RpcServer },
  events: EventHub,
  log: Logger,
): Promise<WebParts> {
  const parts: { gateway?: Gateway; console?: TechnicianConsole } = {};
  const metrics = createMetrics({
    readers: () => services.readers.list(),
    restoreQueue: () => services.value.state.open.size,
    meters: () =>
      services.postage?.meterNames.map((m) => services.postage?.balance(m)).filter((b) => b !== undefined) ??
      [],
    clients: () => ({
      api: sockets.api.connectionCount,
      admin: sockets.admin.connectionCount,
      gateway: parts.gateway?.rpc.connectionCount ?? 0,
      console: parts.console?.rpc.connectionCount ?? 0,
    }),
    eventDrops: () => events.dropped,
    fleet: () => {
      const f = services.fleet?.status();
      return f === undefined ? undefined : { ready: f.ready, pending: f.outbox.pending };
    },
  });
  events.tap((topic, data) => metrics.observe(topic, data));
  if (config.gateway.enabled) {
    const g = config.gateway;
    parts.gateway = await startGateway({ ...g, origin: originOf(g) }, limits, services, log);
  }
  if (config.console.enabled) {
    const c = config.console;
    const tokenFile = c.metricsTokenFile ?? join(dirname(config.admin.socketPath), "metrics.token");
    const metricsToken = randomBytes(32).toString("base64url");
    // Readable by exactly who may open admin.sock: its mode (less execute bits) and group.
    writeFileSync(tokenFile, `${metricsToken}\n`, { mode: 0o600 });
    if (config.admin.group !== undefined) chownSync(tokenFile, -1, resolveGroup(config.admin.group));
    chmodSync(tokenFile, config.admin.socketMode & 0o660);
    parts.console = await startConsole(
      { ...c, origin: originOf(c), metricsToken },
      { ...limits, maxConnections: c.maxConnections },
      services,
      metrics,
      log,
    );
    services.console = parts.console;
    log.info({ tokenFile }, "metrics at /metrics of the console, bearer token in the file");
  }
  return {
    ...parts,
    metrics,
    async close() {
      await Promise.all([parts.gateway?.close(), parts.console?.close()]);
      metrics.close();
    },
  };
}
