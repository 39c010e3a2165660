import { TermhostError } from "../../errors/errors.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import { ConsoleMethods } from "../schemas/console.js";

export interface ConsoleLogin {
  /** A fresh single-use ticket and the console URL that carries it. */
  issue(): { url: string; expiresAt: string };
}

export interface ConsoleServices {
  /** Absent when the console is not enabled in the configuration. */
  console?: ConsoleLogin | undefined;
}

export function registerConsoleMethods(server: RpcServer, services: ConsoleServices): void {
  server.register("admin.console.ticket", ConsoleMethods["admin.console.ticket"], () => {
    if (services.console === undefined) {
      throw new TermhostError("CONSOLE_DISABLED", "the technician console is not enabled", {
        hint: 'set "console": { "enabled": true } in the daemon configuration and restart it',
      });
    }
    return services.console.issue();
  });
}
