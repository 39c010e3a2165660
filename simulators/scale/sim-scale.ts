import { TermhostError } from "../../src/errors/errors.js";
import {
  type ControlLayout,
  DEFAULT_LAYOUT,
  parseControlReport,
  type ReportLayout,
  type ScaleStatus,
  serializeScaleReport,
} from "../../src/scale/report.js";
import type { DeviceInfo, ScaleEnumerator, ScaleTransport } from "../../src/scale/transport.js";
import type { WeightUnit } from "../../src/scale/units.js";

export interface SimScaleOptions {
  vendorId?: string;
  productId?: string;
  path?: string;
  /** Unit and scaling of the reports: 0.1 oz is {unit: "ounce", exponent: -1}. */
  unit?: WeightUnit;
  exponent?: number;
  /** Heaviest weighable load; above it the scale reports over limit. */
  capacityGrams?: number;
  /** A real postal scale sends about ten reports a second. */
  reportIntervalMs?: number;
  layout?: ReportLayout;
  control?: ControlLayout;
}

const GRAMS_PER_UNIT: Partial<Record<WeightUnit, number>> = {
  milligram: 0.001,
  gram: 1,
  kilogram: 1000,
  ounce: 28.349523125,
  pound: 453.59237,
};

interface PendingRead {
  resolve: (report: Buffer) => void;
  reject: (e: unknown) => void;
  timers: NodeJS.Timeout[];
}

/**
 * A USB HID POS postal scale in software: the physical world (a load that settles, a wobbling
 * piece, an overload, a pulled cable) on one side; real scale data reports, built with the
 * product's own codec, on the other. Floating point is fine here: this models a load cell, not a
 * sale.
 */
export class SimScale implements ScaleEnumerator {
  readonly info: DeviceInfo;
  /** Every output report the host wrote, for assertions. */
  readonly received: Buffer[] = [];
  /** Transports the host opened, in order. */
  opens = 0;
  readonly #options: Required<Omit<SimScaleOptions, "vendorId" | "productId" | "path" | "control">> & {
    control: ControlLayout | undefined;
  };
  #from = 0;
  #to = 0;
  #settleStart = 0;
  #settleUntil = 0;
  #zeroOffset = 0;
  #wobble = false;
  #wobbleTick = 0;
  #plugged = true;
  #condition: ScaleStatus | null = null;
  #generation = 0;
  #injected: Buffer[] = [];
  readonly #pending = new Set<PendingRead>();

  constructor(options: SimScaleOptions = {}) {
    this.info = {
      vendorId: options.vendorId ?? "1209",
      productId: options.productId ?? "0001",
      path: options.path ?? "sim:scale0",
      product: "termhost simulated postal scale",
    };
    this.#options = {
      unit: options.unit ?? "gram",
      exponent: options.exponent ?? 0,
      capacityGrams: options.capacityGrams ?? 10_000,
      reportIntervalMs: options.reportIntervalMs ?? 100,
      layout: options.layout ?? DEFAULT_LAYOUT,
      control: options.control ?? { reportId: 0x02, zeroMask: 0x02, tareMask: null },
    };
  }

  // ---- control: what a test (or the control socket) does to the scale ----

  /** Puts a load on the scale; it reads in motion, moving toward `grams`, for `settleMs`. */
  setWeight(grams: number, options: { settleMs?: number } = {}): void {
    const now = Date.now();
    this.#from = this.#gramsAt(now);
    this.#to = grams;
    this.#settleStart = now;
    this.#settleUntil = now + (options.settleMs ?? 0);
  }

  /** A piece that rocks: in motion around the load until switched off. */
  wobble(on: boolean): void {
    this.#wobble = on;
  }

  /** Forces a condition the load cannot produce (fault, needs calibration…); null returns to normal. */
  setCondition(status: ScaleStatus | null): void {
    this.#condition = status;
  }

  /** Queues raw bytes to be delivered as the next reports: malformed input for the host. */
  inject(report: Buffer): void {
    this.#injected.push(report);
  }

  /** Pulls the cable: pending reads reject, the device leaves the enumeration, its handles die. */
  unplug(): void {
    this.#plugged = false;
    this.#generation++;
    for (const pending of this.#pending) this.#fail(pending, false);
  }

  replug(): void {
    this.#plugged = true;
  }

  get plugged(): boolean {
    return this.#plugged;
  }

  /** The report the scale would send now. */
  currentReport(): Buffer {
    const now = Date.now();
    const grams = this.#gramsAt(now) - this.#zeroOffset;
    const moving = now < this.#settleUntil || this.#wobble;
    const wobble = this.#wobble ? (this.#wobbleTick++ % 2 === 0 ? 2 : -2) : 0;
    let status: ScaleStatus;
    if (this.#condition !== null) status = this.#condition;
    else if (grams > this.#options.capacityGrams) status = "over_limit";
    else if (moving) status = "in_motion";
    else if (grams < 0) status = "under_zero";
    else if (grams === 0) status = "stable_at_zero";
    else status = "stable";
    const { unit, exponent, layout } = this.#options;
    const perCount = (GRAMS_PER_UNIT[unit] ?? 1) * 10 ** exponent;
    const limit = 2 ** (8 * layout.weightBytes - (layout.weightSigned ? 1 : 0)) - 1;
    let value = Math.round(grams / perCount) + (status === "in_motion" ? wobble : 0);
    if (!layout.weightSigned) value = Math.abs(value);
    value = Math.max(layout.weightSigned ? -limit - 1 : 0, Math.min(limit, value));
    return serializeScaleReport(
      { reportId: layout.reportId, status, weight: { value, exponent, unit } },
      layout,
    );
  }

  // ---- the host's side: ScaleEnumerator and ScaleTransport ----

  async list(): Promise<DeviceInfo[]> {
    return this.#plugged ? [{ ...this.info }] : [];
  }

  async open(info: DeviceInfo): Promise<ScaleTransport> {
    if (!this.#plugged || info.path !== this.info.path) {
      throw new TermhostError("SCALE_OFFLINE", `no simulated scale at ${info.path}`, {
        context: { path: info.path },
      });
    }
    this.opens++;
    return this.#transport(this.#generation);
  }

  #transport(generation: number): ScaleTransport {
    let closed = false;
    const mine = new Set<PendingRead>();
    const alive = (): boolean => !closed && this.#plugged && generation === this.#generation;
    return {
      read: (timeoutMs) =>
        new Promise<Buffer>((resolve, reject) => {
          if (!alive()) {
            reject(this.#offline(closed));
            return;
          }
          const pending: PendingRead = {
            resolve: (report) => {
              this.#settle(pending, mine);
              resolve(report);
            },
            reject: (e) => {
              this.#settle(pending, mine);
              reject(e);
            },
            timers: [],
          };
          const interval = this.#options.reportIntervalMs;
          pending.timers.push(setTimeout(() => pending.resolve(this.#nextReport()), interval));
          if (timeoutMs < interval) {
            pending.timers.push(
              setTimeout(
                () => pending.reject(new TermhostError("TIMEOUT", `no report within ${timeoutMs} ms`)),
                timeoutMs,
              ),
            );
          }
          mine.add(pending);
          this.#pending.add(pending);
        }),
      write: async (report) => {
        if (!alive()) throw this.#offline(closed);
        this.received.push(Buffer.from(report));
        this.#control(report);
      },
      close: async () => {
        closed = true;
        for (const pending of mine) this.#fail(pending, true);
      },
    };
  }

  #nextReport(): Buffer {
    return this.#injected.shift() ?? this.currentReport();
  }

  #control(report: Buffer): void {
    const control = this.#options.control;
    if (control === undefined) return;
    const commands = parseControlReport(report, control);
    // Zero and tare both make the present load read as zero; a real scale refuses either while moving.
    if (commands.length > 0) this.#zeroOffset = this.#gramsAt(Date.now());
  }

  #gramsAt(now: number): number {
    if (now >= this.#settleUntil) return this.#to;
    const span = this.#settleUntil - this.#settleStart;
    return this.#from + ((this.#to - this.#from) * (now - this.#settleStart)) / span;
  }

  #settle(pending: PendingRead, mine: Set<PendingRead>): void {
    for (const t of pending.timers) clearTimeout(t);
    mine.delete(pending);
    this.#pending.delete(pending);
  }

  #fail(pending: PendingRead, closed: boolean): void {
    pending.reject(this.#offline(closed));
  }

  #offline(closed: boolean): TermhostError {
    return new TermhostError("SCALE_OFFLINE", closed ? "scale transport is closed" : "scale unplugged", {
      context: { path: this.info.path, closed },
    });
  }
}
