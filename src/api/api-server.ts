import type { Logger } from "pino";
import { RpcServer } from "../jsonrpc/server.js";
import { identifyCard, identifyReader } from "../pcsc/profiles/identify.js";
import type { DeviceProfiles } from "../pcsc/profiles/load.js";
import type { ReaderManager } from "../pcsc/reader-manager.js";
import { ApiMethods } from "./schemas.js";

export interface ApiLimits {
  maxLineBytes: number;
  maxConnections: number;
  maxInFlightPerConnection: number;
  maxBufferedBytes: number;
}

export interface ApiServices {
  log: Logger;
  version: string;
  startedAt: Date;
  readers: ReaderManager;
  profiles: DeviceProfiles;
}

/** The kiosk/POS socket's methods, wired to the daemon's services. */
export function createApiServer(limits: ApiLimits, services: ApiServices): RpcServer {
  const server = new RpcServer({ log: services.log.child({ socket: "api" }), ...limits });
  server.register("system.status", ApiMethods["system.status"], () => {
    const pcsc: { state: "connecting" | "up" | "down"; error?: string } = { state: services.readers.state };
    if (services.readers.error !== undefined) pcsc.error = services.readers.error;
    return {
      version: services.version,
      pid: process.pid,
      startedAt: services.startedAt.toISOString(),
      uptimeMs: Date.now() - services.startedAt.getTime(),
      pcsc,
      readers: services.readers.list().map((r) => ({
        ...r,
        readerProfile: identifyReader(r.name, services.profiles.readers)?.name ?? null,
        cardProfile:
          r.atr === null
            ? null
            : (identifyCard(Buffer.from(r.atr, "hex"), services.profiles.cards)?.name ?? null),
      })),
    };
  });
  return server;
}
