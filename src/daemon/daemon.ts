import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { createApiServer } from "../api/api-server.js";
import type { RpcServer } from "../jsonrpc/server.js";
import { loadProfiles } from "../pcsc/profiles/load.js";
import { ReaderManager } from "../pcsc/reader-manager.js";
import { productVersion } from "../util/version.js";
import type { Config } from "./config.js";

/** The running daemon: its services, its sockets, and an orderly stop. */
export class Daemon {
  private api: RpcServer | undefined;
  readonly readers: ReaderManager;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    // The PC/SC client library reads its socket path from the environment when a context opens.
    if (config.pcsc.socketPath !== undefined) process.env.PCSCLITE_CSOCK_NAME = config.pcsc.socketPath;
    this.readers = new ReaderManager({
      log: log.child({ part: "pcsc" }),
      retryMinMs: config.pcsc.retryMinMs,
      retryMaxMs: config.pcsc.retryMaxMs,
    });
  }

  async start(): Promise<void> {
    // A bad profile stops start-up here, before any device is touched.
    const profiles = await loadProfiles(this.config.profiles.dir);
    this.log.info(
      { dir: this.config.profiles.dir, cards: profiles.cards.length, readers: profiles.readers.length },
      "device profiles loaded",
    );
    this.readers.start();
    const { socketPath, socketMode, ...limits } = this.config.api;
    this.api = createApiServer(limits, {
      log: this.log,
      version: productVersion(),
      startedAt: new Date(),
      readers: this.readers,
      profiles,
    });
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
    await this.api.listenPath(socketPath, socketMode);
    this.log.info({ socket: socketPath }, "serving the kiosk/POS API");
  }

  async stop(): Promise<void> {
    this.log.info("stopping");
    await this.api?.close();
    this.readers.stop();
  }
}
