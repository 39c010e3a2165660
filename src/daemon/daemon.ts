import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Logger } from "pino";
import { type ApiLimits, type ApiServices, createAdminServer, createApiServer } from "../api/api-server.js";
import { EventHub } from "../api/events.js";
import type { AdminServices } from "../api/handlers/admin.js";
import type { ConsoleServices } from "../api/handlers/console.js";
import { publishRefillEvents } from "../api/handlers/refill.js";
import { publishScaleEvents, type RateTables } from "../api/handlers/scale.js";
import { publishValueEvents } from "../api/handlers/value.js";
import { publishReaderEvents } from "../api/reader-events.js";
import { resolveGroup } from "../api/socket-group.js";
import { TermhostError } from "../errors/errors.js";
import { FleetService } from "../fleet/service.js";
import type { RpcServer } from "../jsonrpc/server.js";
import { loadProfiles } from "../pcsc/profiles/load.js";
import { ReaderManager } from "../pcsc/reader-manager.js";
import { loadMeterProfiles } from "../postage/meter/profile.js";
import type { PostageService } from "../postage/postage-service.js";
import { loadRateTables } from "../postage/rating.js";
import { startPostage } from "../postage/start.js";
import { type ScaleRuntime, startScale } from "../scale/start.js";
import { productVersion } from "../util/version.js";
import type { Config } from "./config.js";
import { meterLineRefusals } from "./production-config.js";
import { takeListenFds } from "./systemd/listen-fds.js";
import { planThreadpool, type ThreadpoolPlan } from "./threadpool.js";
import { startValueService, type ValueService } from "./value-service.js";
import { ReaderGuard } from "./virtual-readers.js";
import { startWeb, type WebParts } from "./web-wiring.js";

type DaemonServices = ApiServices & AdminServices & ConsoleServices;

/** Sockets already listening, handed over by the service manager (socket activation). */
export interface PassedSockets {
  api?: number;
  admin?: number;
}

export interface DaemonOptions {
  /** Sockets passed in; when absent they are taken from LISTEN_FDS (names `api`, `admin`). */
  sockets?: PassedSockets;
}

/** The running daemon: its services, its sockets, and an orderly stop. */
export class Daemon {
  private api: RpcServer | undefined;
  private admin: RpcServer | undefined;
  private unpublish: (() => void) | undefined;
  private value: ValueService | undefined;
  private services: DaemonServices | undefined;
  private postage: PostageService | undefined;
  private fleet: FleetService | undefined;
  private scale: ScaleRuntime | undefined;
  private unpublishScale: (() => void) | undefined;
  private web: WebParts | undefined;
  readonly readers: ReaderManager;
  /** How libuv's threads are shared between the devices and the journal. */
  readonly threadpool: ThreadpoolPlan;
  readonly events: EventHub;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly options: DaemonOptions = {},
  ) {
    // The PC/SC client library reads its socket path from the environment when a context opens.
    if (config.pcsc.socketPath !== undefined) process.env.PCSCLITE_CSOCK_NAME = config.pcsc.socketPath;
    this.threadpool = planThreadpool(config);
    this.readers = new ReaderManager({
      log: log.child({ part: "pcsc" }),
      retryMinMs: config.pcsc.retryMinMs,
      retryMaxMs: config.pcsc.retryMaxMs,
      maxNativeCalls: this.threadpool.pcscCalls,
    });
    this.events = new EventHub(
      { maxQueuedEvents: config.api.eventQueueMaxEvents, maxQueuedBytes: config.api.eventQueueMaxBytes },
      log.child({ part: "events" }),
    );
  }

  async start(): Promise<void> {
    // A bad profile stops start-up here, before any device is touched.
    const profiles = await loadProfiles(this.config.profiles.dir);
    this.log.info(
      { dir: this.config.profiles.dir, cards: profiles.cards.length, readers: profiles.readers.length },
      "device profiles loaded",
    );
    await this.refuseSimulatedMeterLines();
    this.unpublish = publishReaderEvents(this.readers, this.events);
    const guard = new ReaderGuard({
      mode: this.config.mode,
      profiles: () => this.services?.profiles ?? profiles,
      log: this.log.child({ part: "pcsc" }),
    });
    guard.watch(this.readers);
    mkdirSync(this.config.stateDir, { recursive: true, mode: 0o700 });
    // The journal is recovered (or start-up stops) before any card is touched.
    this.value = await startValueService(
      this.config.value,
      this.config.stateDir,
      this.readers,
      profiles,
      this.log,
      guard,
    );
    publishValueEvents(this.value.engine, this.events);
    // The postage journal is recovered before any meter is opened.
    this.postage = await startPostage(
      this.config.postage,
      { stateDir: this.config.stateDir, profilesDir: this.config.profiles.dir },
      this.log,
      (data) => this.events.publish("postage", data),
    );
    if (this.config.fleet !== undefined && this.postage === undefined)
      throw new TermhostError(
        "CONFIG_INVALID",
        "fleet: the fleet account refills meters, and postage.meters is empty",
        {
          hint: "configure the kiosk's meters in postage.meters, or remove the fleet section",
        },
      );
    // Refills are value increases: the meters join the value engine as targets.
    if (this.postage !== undefined) {
      if (this.config.fleet !== undefined)
        this.fleet = new FleetService(
          this.config.fleet,
          this.postage,
          this.value.engine,
          this.log.child({ part: "fleet" }),
        );
      this.value.engine.addDevices(this.postage.refillDevices(this.fleet?.gate));
      publishRefillEvents(this.value.engine, this.events);
    }
    const rates = await this.loadRates();
    this.scale = await this.startScale();
    this.unpublishScale = publishScaleEvents(this.scale, this.events);
    this.readers.start();
    this.value.engine.start();
    this.fleet?.start();
    const api = this.config.api;
    const limits: ApiLimits = {
      maxLineBytes: api.maxLineBytes,
      maxConnections: api.maxConnections,
      maxInFlightPerConnection: api.maxInFlightPerConnection,
      maxBufferedBytes: api.maxBufferedBytes,
      rateLimit: { perSecond: api.requestsPerSecond, burst: api.requestBurst },
    };
    const services: DaemonServices = {
      log: this.log,
      events: this.events,
      version: productVersion(),
      startedAt: new Date(),
      readers: this.readers,
      profiles,
      value: this.value.engine,
      postage: this.postage,
      fleet: this.fleet,
      scale: this.scale,
      rates,
    };
    this.services = services;
    const passed = this.options.sockets ?? this.socketsFromServiceManager();
    this.api = createApiServer(limits, services);
    this.admin = createAdminServer({ ...limits, maxConnections: this.config.admin.maxConnections }, services);
    // The admin socket first: a client that sees api.sock answer (make run, the tests) finds both.
    await this.listen(this.admin, "admin", passed.admin, this.config.admin);
    await this.listen(this.api, "api", passed.api, api);
    // Browser gateway, technician console and metrics (docs/web.md): opt-in, after the sockets.
    this.web = await startWeb(
      this.config,
      limits,
      services,
      { api: this.api, admin: this.admin },
      this.events,
      this.log,
    );
  }

  /** The whole orderly stop, for callers without a service manager's deadline (tests, make run). */
  async stop(): Promise<void> {
    this.log.info("stopping");
    this.stopAccepting();
    await this.drainInFlight(new AbortController().signal);
    await this.closeStores();
    this.closePcsc();
    await this.closeSockets();
  }

  /** Shutdown step 1: no new value-moving work; reads and status keep being served. */
  stopAccepting(): void {
    this.value?.engine.refuseNew();
  }

  /** Step 2: exchanges in flight finish or reach a restorable state; abandoned when `signal` aborts. */
  async drainInFlight(signal: AbortSignal): Promise<void> {
    const aborted = new Promise<void>((resolve) =>
      signal.addEventListener("abort", () => resolve(), { once: true }),
    );
    await Promise.race([this.value?.engine.idle(), aborted]);
  }

  /** Step 3: batches stop at an indicium boundary, journals flush and close. */
  async closeStores(): Promise<void> {
    await this.fleet?.stop();
    await this.postage?.stop();
    await this.value?.close();
    this.unpublishScale?.();
    await this.scale?.stop();
  }

  /** Step 4: PC/SC; the binding's close can hang in SCardCancel, so the context is dropped instead. */
  closePcsc(): void {
    this.unpublish?.();
    this.readers.stop();
  }

  async closeSockets(): Promise<void> {
    await Promise.all([this.api?.close(), this.admin?.close(), this.web?.close()]);
  }

  /** SIGHUP: device profiles are read again; a bad set keeps the old one and says why. */
  async reloadProfiles(): Promise<string> {
    const profiles = await loadProfiles(this.config.profiles.dir);
    if (this.services !== undefined) this.services.profiles = profiles;
    return `profiles reloaded: ${profiles.cards.length} cards, ${profiles.readers.length} readers`;
  }

  /** Production mode: a meter on a pseudo-terminal is a simulator; refused before any meter opens. */
  private async refuseSimulatedMeterLines(): Promise<void> {
    if (this.config.mode !== "production" || this.config.postage.meters.length === 0) return;
    const profiles = await loadMeterProfiles(join(this.config.profiles.dir, "meters"));
    const [refused] = meterLineRefusals(this.config, profiles);
    if (refused !== undefined) throw refused;
  }

  /** Rate tables for `postage.rate`; a bad file stops start-up naming the file and the field. */
  private async loadRates(): Promise<RateTables> {
    const { rates } = this.config.scale;
    const dir = rates.dir ?? join(this.config.profiles.dir, "rates");
    // The default folder may be absent from a trimmed install; a configured one must exist.
    const tables = rates.dir === undefined && !existsSync(dir) ? [] : await loadRateTables(dir);
    if (rates.defaultTable !== undefined && !tables.some((t) => t.name === rates.defaultTable)) {
      throw new TermhostError(
        "CONFIG_INVALID",
        `scale.rates.defaultTable: no rate table named '${rates.defaultTable}'`,
        {
          hint: `add it to ${dir} or fix the name`,
          context: { defaultTable: rates.defaultTable, tables: tables.map((t) => t.name) },
        },
      );
    }
    this.log.info({ dir, tables: tables.length }, "rate tables loaded");
    return { tables, defaultTable: rates.defaultTable };
  }

  private startScale(): Promise<ScaleRuntime | undefined> {
    const s = this.config.scale;
    return startScale(
      {
        transport: s.transport,
        profilesDir: s.profilesDir ?? join(this.config.profiles.dir, "scales"),
        profilesDirOptional: s.profilesDir === undefined,
        reportTimeoutMs: s.reportTimeoutMs,
        reconnect: { initialMs: s.reconnectInitialMs, maxMs: s.reconnectMaxMs },
      },
      this.log,
    );
  }

  private socketsFromServiceManager(): PassedSockets {
    const { named } = takeListenFds();
    const sockets: PassedSockets = {};
    const api = named.get("api");
    const admin = named.get("admin");
    if (api !== undefined) sockets.api = api;
    if (admin !== undefined) sockets.admin = admin;
    return sockets;
  }

  private async listen(
    server: RpcServer,
    role: "api" | "admin",
    fd: number | undefined,
    file: { socketPath: string; socketMode: number; group?: string | number | undefined },
  ): Promise<void> {
    if (fd !== undefined) {
      await server.listenFd(fd);
      this.log.info({ role, fd }, `serving the ${role} socket passed by the service manager`);
      return;
    }
    mkdirSync(dirname(file.socketPath), { recursive: true, mode: 0o755 });
    const access =
      file.group === undefined
        ? { mode: file.socketMode }
        : { mode: file.socketMode, gid: resolveGroup(file.group) };
    await server.listenPath(file.socketPath, access);
    this.log.info({ role, socket: file.socketPath, ...access }, `serving the ${role} socket`);
  }
}
