import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import { RpcServer } from "../jsonrpc/server.js";
import type { EventHub } from "./events.js";
import { type AdminServices, registerAdminMethods } from "./handlers/admin.js";
import { type ConsoleServices, registerConsoleMethods } from "./handlers/console.js";
import { registerEventMethods } from "./handlers/events.js";
import { type FleetServices, registerFleetMethods } from "./handlers/fleet.js";
import { type PostageServices, registerPostageMethods } from "./handlers/postage.js";
import { registerRefillMethod } from "./handlers/refill.js";
import { registerRestoreMethods } from "./handlers/restore.js";
import { registerScaleMethods, type ScaleServices } from "./handlers/scale.js";
import { registerSystemMethods, type SystemServices } from "./handlers/system.js";
import { registerValueMethods, type ValueServices } from "./handlers/value.js";
import { AdminMethods } from "./schemas/admin.js";

export interface ApiLimits {
  maxLineBytes: number;
  maxConnections: number;
  maxInFlightPerConnection: number;
  maxBufferedBytes: number;
  rateLimit?: { perSecond: number; burst: number };
}

export type ApiServices = { log: Logger; events: EventHub } & SystemServices &
  ValueServices &
  PostageServices &
  ScaleServices;

/** Registers every method both sockets serve; each domain adds its own line here. */
function registerKioskMethods(server: RpcServer, services: ApiServices): void {
  registerSystemMethods(server, services);
  registerEventMethods(server, services.events);
  registerValueMethods(server, services);
  registerPostageMethods(server, services);
  registerRefillMethod(server, services);
  registerScaleMethods(server, services);
}

/** The kiosk/POS socket. Technician methods are known here only to be refused with UNAUTHORIZED. */
export function createApiServer(limits: ApiLimits, services: ApiServices): RpcServer {
  const server = new RpcServer({ log: services.log.child({ socket: "api" }), ...limits });
  registerKioskMethods(server, services);
  for (const name of Object.keys(AdminMethods)) {
    server.deny(
      name,
      () =>
        new TermhostError("UNAUTHORIZED", `'${name}' is a technician's method`, {
          hint: "call it on the admin socket (admin.sock), which only technicians can open",
          context: { method: name },
        }),
    );
  }
  return server;
}

/** The technician's socket: everything the kiosk socket serves, and the admin methods. */
export function createAdminServer(
  limits: ApiLimits,
  services: ApiServices & AdminServices & ConsoleServices & FleetServices,
): RpcServer {
  const server = new RpcServer({ log: services.log.child({ socket: "admin" }), ...limits });
  registerKioskMethods(server, services);
  registerAdminMethods(server, services);
  registerRestoreMethods(server, services);
  registerConsoleMethods(server, services);
  registerFleetMethods(server, services);
  return server;
}
