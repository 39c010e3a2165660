import { EventEmitter, on } from "node:events";
import type { Logger } from "pino";
import { type ErrorCode, isTermhostError, TermhostError } from "../errors/errors.js";
import { profileFor, type ScaleProfile } from "./profiles/load.js";
import { parseScaleReport, type ScaleCommand, type ScaleStatus, serializeControlReport } from "./report.js";
import { StabilityTracker, verdictOf } from "./stability.js";
import type { DeviceInfo, ScaleEnumerator, ScaleTransport } from "./transport.js";
import { formatWeight, type Weight } from "./weight.js";

export interface ScaleServiceOptions {
  enumerator: ScaleEnumerator;
  profiles: readonly ScaleProfile[];
  logger?: Logger;
  /** How long one transport read waits for a report before trying again; default 1,000 ms. */
  reportTimeoutMs?: number;
  /** Enumeration while no scale is connected: first retry delay, doubled up to `maxMs`. */
  reconnect?: { initialMs: number; maxMs: number };
}

/** A reading for display: may be moving or not yet trusted. */
export interface LiveWeight {
  status: ScaleStatus;
  weight: Weight;
  /** "113.5 oz" */
  text: string;
  /** The same settled reading has repeated enough on this connection to be a sale weight. */
  trusted: boolean;
}

/** A weight that may be charged for: stable, trusted, never negative. */
export interface SaleWeight {
  status: "stable" | "stable_at_zero";
  weight: Weight;
  text: string;
}

export interface ScaleSnapshot {
  online: boolean;
  device: (DeviceInfo & { profile: string }) | null;
  live: LiveWeight | null;
  /** Reports that did not parse since the service started; each is dropped, the scale keeps serving. */
  invalidReports: number;
}

export interface ScaleServiceEvents {
  weight: [LiveWeight];
  connected: [DeviceInfo & { profile: string }];
  disconnected: [DeviceInfo & { profile: string }];
}

interface Connection {
  transport: ScaleTransport;
  device: DeviceInfo & { profile: string };
  profile: ScaleProfile;
  tracker: StabilityTracker;
}

const DEFAULT_RECONNECT = { initialMs: 500, maxMs: 10_000 };
const MAX_READ_TIMEOUT_MS = 120_000;

function sameLive(a: LiveWeight | null, b: LiveWeight): boolean {
  return (
    a !== null &&
    a.status === b.status &&
    a.trusted === b.trusted &&
    a.weight.value === b.weight.value &&
    a.weight.exponent === b.weight.exponent &&
    a.weight.unit === b.weight.unit
  );
}

/**
 * The kiosk's scale: finds a configured scale, keeps reading it, reconnects after an unplug, and
 * answers `read` with a trusted stable weight or a typed error. Events: `weight` on every change of
 * the live reading, `connected`, `disconnected`.
 */
export class ScaleService extends EventEmitter<ScaleServiceEvents> {
  readonly #options: ScaleServiceOptions;
  readonly #reconnect: { initialMs: number; maxMs: number };
  #running = false;
  #loop: Promise<void> | undefined;
  #connection: Connection | undefined;
  #live: LiveWeight | null = null;
  #invalidReports = 0;
  #wake: (() => void) | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(options: ScaleServiceOptions) {
    super();
    // Each pending read listens for readings; many kiosk clients may wait at once.
    this.setMaxListeners(100);
    this.#options = options;
    this.#reconnect = options.reconnect ?? DEFAULT_RECONNECT;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#connection?.transport.close();
    await this.#loop;
    this.#loop = undefined;
  }

  snapshot(): ScaleSnapshot {
    return {
      online: this.#connection !== undefined,
      device: this.#connection?.device ?? null,
      live: this.#live,
      invalidReports: this.#invalidReports,
    };
  }

  /**
   * Waits up to `timeoutMs` for a trusted stable weight. A trusted over-limit, under-zero or fault
   * condition rejects at once (SCALE_OVERWEIGHT, SCALE_UNDER_ZERO, SCALE_FAULT): the person at the
   * kiosk must act. Moving or untrusted readings and an offline scale wait for the deadline, then
   * reject with SCALE_UNSTABLE or SCALE_OFFLINE; a connected scale that sent nothing gives TIMEOUT.
   */
  read(options: { timeoutMs: number }): Promise<SaleWeight> {
    const { timeoutMs } = options;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_READ_TIMEOUT_MS) {
      return Promise.reject(
        new TermhostError("INVALID_PARAMS", `timeoutMs must be an integer from 0 to ${MAX_READ_TIMEOUT_MS}`),
      );
    }
    return new Promise((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.off("weight", onWeight);
      };
      const onWeight = (): void => {
        const outcome = this.#settledOutcome();
        if (outcome === undefined) return;
        finish();
        if (outcome instanceof TermhostError) reject(outcome);
        else resolve(outcome);
      };
      const timer = setTimeout(() => {
        finish();
        reject(this.#deadlineError(timeoutMs));
      }, timeoutMs);
      this.on("weight", onWeight);
      onWeight();
    });
  }

  /** Live readings as an async iterator, for a display; ends when `signal` aborts. */
  async *watch(signal: AbortSignal): AsyncGenerator<LiveWeight> {
    if (this.#live !== null) yield this.#live;
    try {
      for await (const [live] of on(this, "weight", { signal })) yield live as LiveWeight;
    } catch (e) {
      if (!signal.aborted) throw e;
    }
  }

  /** HID POS Zero Scale; SCALE_UNSUPPORTED when the profile declares no control report. */
  zero(): Promise<void> {
    return this.#command("zero");
  }

  /** Vendor tare; SCALE_UNSUPPORTED unless the profile declares a tare bit. */
  tare(): Promise<void> {
    return this.#command("tare");
  }

  #command(command: ScaleCommand): Promise<void> {
    const run = async (): Promise<void> => {
      const connection = this.#connection;
      if (connection === undefined) throw new TermhostError("SCALE_OFFLINE", "no scale is connected");
      const control = connection.profile.control;
      if (control === undefined) {
        throw new TermhostError("SCALE_UNSUPPORTED", `scale ${connection.profile.name} cannot be zeroed`, {
          context: { command, profile: connection.profile.name },
        });
      }
      await connection.transport.write(serializeControlReport(command, control));
      // The weight is about to change: what was trusted before the command is not evidence now.
      connection.tracker.reset();
      if (this.#live !== null) this.#publish({ ...this.#live, trusted: false });
    };
    const result = this.#writes.then(run, run);
    this.#writes = result.catch(() => undefined);
    return result;
  }

  #settledOutcome(): SaleWeight | TermhostError | undefined {
    const live = this.#live;
    if (this.#connection === undefined || live === null || !live.trusted) return undefined;
    const verdict = verdictOf(live);
    if (verdict.kind === "weight") {
      return { status: live.status as SaleWeight["status"], weight: live.weight, text: live.text };
    }
    return this.#conditionError(verdict.code, live);
  }

  #deadlineError(timeoutMs: number): TermhostError {
    const live = this.#live;
    if (this.#connection === undefined) {
      return new TermhostError("SCALE_OFFLINE", "no scale is connected", {
        hint: "check that the scale is plugged in and switched on",
        context: { timeoutMs },
      });
    }
    if (live === null) {
      return new TermhostError("TIMEOUT", `the scale sent no reading within ${timeoutMs} ms`, {
        context: { timeoutMs },
      });
    }
    const verdict = verdictOf(live);
    return this.#conditionError(verdict.kind === "weight" ? "SCALE_UNSTABLE" : verdict.code, live, timeoutMs);
  }

  #conditionError(code: ErrorCode, live: LiveWeight, timeoutMs?: number): TermhostError {
    const hints: Partial<Record<ErrorCode, string>> = {
      SCALE_UNSTABLE: "keep the piece still on the scale",
      SCALE_OVERWEIGHT: "the piece is heavier than the scale can weigh",
      SCALE_UNDER_ZERO: "empty the scale and zero it",
      SCALE_FAULT: "the scale needs service (calibration or re-zeroing)",
    };
    const message =
      code === "SCALE_UNSTABLE"
        ? `no stable weight (last ${live.status} ${live.text})`
        : `scale ${live.status}`;
    return new TermhostError(code, message, {
      ...(hints[code] === undefined ? {} : { hint: hints[code] }),
      context: { status: live.status, weight: live.text, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
    });
  }

  async #run(): Promise<void> {
    let delay = this.#reconnect.initialMs;
    while (this.#running) {
      const connection = await this.#connect();
      if (connection === undefined) {
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.#reconnect.maxMs);
        continue;
      }
      delay = this.#reconnect.initialMs;
      await this.#pump(connection);
    }
  }

  async #connect(): Promise<Connection | undefined> {
    const { enumerator, profiles, logger } = this.#options;
    let devices: DeviceInfo[];
    try {
      devices = await enumerator.list();
    } catch (e) {
      logger?.warn({ err: e }, "scale enumeration failed");
      return undefined;
    }
    for (const info of devices) {
      const profile = profileFor(info, profiles);
      if (profile === undefined || !this.#running) continue;
      try {
        const transport = await enumerator.open(info);
        if (!this.#running) {
          await transport.close();
          return undefined;
        }
        const device = { ...info, profile: profile.name };
        const connection = {
          transport,
          device,
          profile,
          tracker: new StabilityTracker(profile.stableReports),
        };
        this.#connection = connection;
        logger?.info({ device }, "scale connected");
        this.emit("connected", device);
        return connection;
      } catch (e) {
        logger?.warn({ err: e, path: info.path }, "cannot open scale");
      }
    }
    return undefined;
  }

  async #pump(connection: Connection): Promise<void> {
    const { logger } = this.#options;
    const timeoutMs = this.#options.reportTimeoutMs ?? 1_000;
    while (this.#running) {
      let bytes: Buffer;
      try {
        bytes = await connection.transport.read(timeoutMs);
      } catch (e) {
        if (isTermhostError(e, "TIMEOUT")) continue;
        if (this.#running) logger?.warn({ err: e, device: connection.device }, "scale lost");
        break;
      }
      try {
        const report = parseScaleReport(bytes, connection.profile.report);
        const trusted = connection.tracker.feed(report);
        this.#publish({
          status: report.status,
          weight: report.weight,
          text: formatWeight(report.weight),
          trusted,
        });
      } catch (e) {
        // Bad input from the device never stops the service: the report is dropped and counted.
        this.#invalidReports++;
        if (isTermhostError(e, "SCALE_REPORT_INVALID")) {
          logger?.debug({ err: e, device: connection.device }, "scale report dropped");
        } else logger?.error({ err: e, device: connection.device }, "scale report handling failed");
      }
    }
    await connection.transport.close();
    this.#connection = undefined;
    this.#live = null;
    this.emit("disconnected", connection.device);
  }

  #publish(live: LiveWeight): void {
    if (sameLive(this.#live, live)) return;
    this.#live = live;
    this.emit("weight", live);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }
}
