import type { Logger } from "pino";
import { TermhostError } from "../../errors/errors.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import {
  type CommandApdu,
  describeStatus,
  exchange,
  parseCommand,
  serializeCommand,
  statusKind,
  toHex,
  tryParseHex,
} from "../../pcsc/apdu/index.js";
import type { ReaderManager } from "../../pcsc/reader-manager.js";
import type { LogLevel } from "../../util/log.js";
import { AdminMethods } from "../schemas/admin.js";
import { adminMask } from "./admin-mask.js";

export interface AdminServices {
  /** The daemon's root logger: its level is every part's level. */
  log: Logger;
  readers: ReaderManager;
}

function parseApdus(apdus: readonly string[]): CommandApdu[] {
  return apdus.map((text, index) => {
    const bytes = tryParseHex(text);
    if (bytes === undefined) {
      throw new TermhostError("APDU_MALFORMED", `apdus[${index}] is not hex`, { context: { index } });
    }
    try {
      return parseCommand(bytes);
    } catch (e) {
      if (e instanceof TermhostError) {
        throw new TermhostError(e.code, `apdus[${index}]: ${e.message}`, {
          context: { index, ...e.context },
          hint: "a command APDU is CLA INS P1 P2 [Lc data] [Le]",
        });
      }
      throw e;
    }
  });
}

export function registerAdminMethods(server: RpcServer, services: AdminServices): void {
  const log = services.log.child({ part: "admin" });

  server.register("admin.apdu", AdminMethods["admin.apdu"], async (params) => {
    // Every APDU is checked before the card is touched, so a typo never leaves a half-run sequence.
    const commands = parseApdus(params.apdus);
    return services.readers.withCard(params.reader, params.access, async (channel) => {
      const exchanges = [];
      for (const command of commands) {
        const trace: string[] = [];
        const response = await exchange(channel.transmit, command, {
          accept: () => true,
          trace: (line) => trace.push(line),
          mask: adminMask,
        });
        const mask = adminMask(command);
        const sw = response.sw.toString(16).toUpperCase().padStart(4, "0");
        exchanges.push({
          command: mask.commandData ? null : toHex(serializeCommand(command)),
          data: mask.responseData ? null : toHex(response.data),
          dataLength: response.data.length,
          sw,
          meaning: describeStatus(response.sw),
          kind: statusKind(response.sw),
          trace,
        });
        log.info({ reader: params.reader, trace }, "technician APDU");
      }
      return { reader: params.reader, protocol: channel.protocol, exchanges };
    });
  });

  server.register("admin.logLevel", AdminMethods["admin.logLevel"], (params) => {
    const previous = services.log.level as LogLevel;
    services.log.level = params.level;
    services.log.warn({ previous, level: params.level }, "log level changed by a technician");
    return { previous, level: params.level };
  });

  server.register("admin.readers", AdminMethods["admin.readers"], () => {
    const pcsc: { state: "connecting" | "up" | "down"; error?: string } = { state: services.readers.state };
    if (services.readers.error !== undefined) pcsc.error = services.readers.error;
    return { pcsc, readers: services.readers.list() };
  });
}
