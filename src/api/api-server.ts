import type { Logger } from "pino";
import { RpcServer } from "../jsonrpc/server.js";
import { registerSystemMethods, type SystemServices } from "./handlers/system.js";

export interface ApiLimits {
  maxLineBytes: number;
  maxConnections: number;
  maxInFlightPerConnection: number;
  maxBufferedBytes: number;
}

export type ApiServices = { log: Logger } & SystemServices;

/** The kiosk/POS socket: each domain registers its methods, wired to the daemon's services. */
export function createApiServer(limits: ApiLimits, services: ApiServices): RpcServer {
  const server = new RpcServer({ log: services.log.child({ socket: "api" }), ...limits });
  registerSystemMethods(server, services);
  return server;
}
