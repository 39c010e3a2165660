import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type MeterSimulator, startMeterSimulator } from "../../../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState, TEST_VENDOR_KEY } from "../../../simulators/meter/state-file.js";
import type { ProcessGroup, TrackedProcess } from "../../../simulators/rig/processes.js";
import { startPtyPair } from "../../../simulators/rig/socat.js";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../../../src/daemon/node-flags.js";
import { RpcClient } from "../../../src/jsonrpc/client.js";
import { builtEntry } from "../../../src/util/paths.js";
import { daemonThreadpoolEnv } from "../../../src/util/threadpool.js";
import { waitUntil } from "../../../src/util/wait.js";
import { SIMULATED_METER } from "../../support/meter.js";

export const METER = SIMULATED_METER;

/** Where a kiosk finds the fleet database: the server's socket, or a proxy's TCP port in front of it. */
export type FleetEndpoint = { host: string; port: number };

export interface FleetKioskOptions {
  id: string;
  dir: string;
  /** The meter's own funds at the start. */
  funds: number;
  serial: string;
  database: FleetEndpoint;
  /** The `fleet` section beyond the kiosk id, account and database. */
  fleet?: Record<string, unknown>;
}

/**
 * One kiosk of a fleet as real processes: termhostd with its own state dir and sockets, and its
 * meter simulator on a socat pty pair. No card stack: the PC/SC socket names nothing, so the
 * daemon serves postage while its reader manager keeps retrying.
 */
export class FleetKiosk {
  process: TrackedProcess | undefined;
  private constructor(
    readonly o: FleetKioskOptions,
    readonly sim: MeterSimulator,
    private readonly group: ProcessGroup,
    readonly configPath: string,
  ) {}

  static async start(group: ProcessGroup, o: FleetKioskOptions): Promise<FleetKiosk> {
    mkdirSync(o.dir, { recursive: true });
    const pty = await startPtyPair(group, o.dir, "meter");
    const stateFile = join(o.dir, "meter.json");
    const registers = {
      ...freshMeterState().registers,
      descending: o.funds,
      controlTotal: o.funds,
      serial: o.serial,
    };
    saveMeterState(stateFile, freshMeterState({ serial: o.serial, registers }));
    const sim = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: 115_200 });
    const configPath = join(o.dir, "termhostd.json");
    writeFileSync(
      configPath,
      JSON.stringify({
        mode: "simulation",
        logLevel: "info",
        stateDir: join(o.dir, "state"),
        value: { retryMs: 200 },
        api: { socketPath: join(o.dir, "api.sock") },
        pcsc: { socketPath: join(o.dir, "no-pcscd.sock"), retryMinMs: 1000, retryMaxMs: 5000 },
        postage: {
          meters: [{ profile: METER, port: pty.hostPath, baudRate: 115_200, vendorKey: TEST_VENDOR_KEY }],
          ackMarginMs: 30,
          responseMarginMs: 100,
          backoffInitialMs: 10,
        },
        fleet: {
          kioskId: o.id,
          account: "fleet",
          leaseMs: 5000,
          ...o.fleet,
          database: {
            host: o.database.host,
            port: o.database.port,
            database: "fleet",
            user: "postgres",
            statementTimeoutMs: 1500,
            connectTimeoutMs: 1000,
            idleInTransactionTimeoutMs: 2000,
            tcpUserTimeoutMs: 2000,
          },
        },
      }),
    );
    const kiosk = new FleetKiosk(o, sim, group, configPath);
    await kiosk.startDaemon();
    return kiosk;
  }

  get socketPath(): string {
    return join(this.o.dir, "api.sock");
  }

  /** The admin socket the daemon opens next to api.sock. */
  get adminSocketPath(): string {
    return join(this.o.dir, "admin.sock");
  }

  /** Whether termhostd was started and not killed or stopped since. */
  get running(): boolean {
    return this.process !== undefined;
  }

  /** Starts termhostd and waits until its meter is connected. */
  async startDaemon(): Promise<void> {
    const proc = this.group.start(
      `termhostd ${this.o.id}`,
      process.execPath,
      [...DAEMON_NODE_FLAGS, builtEntry("src/daemon/main.js"), "--config", this.configPath],
      { logPath: join(this.o.dir, "termhostd.log"), env: { ...daemonThreadpoolEnv(), ...DAEMON_ENV } },
    );
    this.process = proc;
    await waitUntil(
      `kiosk ${this.o.id}'s meter`,
      async () => {
        if (proc.child.exitCode !== null)
          throw new Error(`termhostd ${this.o.id} exited with ${proc.child.exitCode}; see ${proc.logPath}`);
        const client = await RpcClient.connect(this.socketPath).catch(() => undefined);
        if (client === undefined) return undefined;
        try {
          const b = (await client.call("postage.balance", { meter: METER })) as { connected: boolean };
          return b.connected || undefined;
        } catch {
          return undefined;
        } finally {
          client.close();
        }
      },
      20_000,
      25,
    );
  }

  /** kill -9 of termhostd. */
  async kill(): Promise<void> {
    const p = this.process;
    if (p === undefined) return;
    this.group.kill(p, "SIGKILL");
    await p.exited;
    this.process = undefined;
  }

  async stopDaemon(): Promise<void> {
    const p = this.process;
    if (p === undefined) return;
    await this.group.stop(p);
    this.process = undefined;
  }

  /** One call on a fresh connection; the error as the value when it fails. */
  async call(method: string, params: unknown, timeoutMs = 30_000): Promise<unknown> {
    const client = await RpcClient.connect(this.socketPath);
    try {
      return await client.call(method, params, timeoutMs);
    } catch (e) {
      return e;
    } finally {
      client.close();
    }
  }

  /** A connection of the caller's own on the API socket, to fire calls at a moment of its choosing. */
  connect(): Promise<RpcClient> {
    return RpcClient.connect(this.socketPath);
  }

  /** Changes the `fleet` section beyond the kiosk id, account and database; takes effect at the next start. */
  reconfigure(fleet: Record<string, unknown>): void {
    const config = JSON.parse(readFileSync(this.configPath, "utf8")) as { fleet: Record<string, unknown> };
    config.fleet = { ...config.fleet, ...fleet };
    writeFileSync(this.configPath, JSON.stringify(config));
  }

  /** One call on the admin socket; the error as the value when it fails, connecting included. */
  async adminCall(method: string, params: unknown, timeoutMs = 30_000): Promise<unknown> {
    const client = await RpcClient.connect(this.adminSocketPath).catch((e: unknown) => e);
    if (!(client instanceof RpcClient)) return client;
    try {
      return await client.call(method, params, timeoutMs);
    } catch (e) {
      return e;
    } finally {
      client.close();
    }
  }

  async close(): Promise<void> {
    await this.stopDaemon();
    await this.sim.close();
  }
}
