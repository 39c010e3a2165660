import type { RpcServer } from "../../jsonrpc/server.js";
import { identifyCard, identifyReader } from "../../pcsc/profiles/identify.js";
import type { DeviceProfiles } from "../../pcsc/profiles/load.js";
import type { ReaderManager } from "../../pcsc/reader-manager.js";
import { SystemMethods } from "../schemas/system.js";

export interface SystemServices {
  version: string;
  startedAt: Date;
  readers: ReaderManager;
  profiles: DeviceProfiles;
}

export function registerSystemMethods(server: RpcServer, services: SystemServices): void {
  server.register("system.status", SystemMethods["system.status"], () => {
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
}
