import type { ErrorCode } from "../errors/errors.js";
import type { ScaleReport } from "./report.js";

/**
 * What a report means for a sale: a weight, or the error code a sale weight request would get.
 * A "stable" report with a negative weight (a signed layout) counts as under zero: a sale weight
 * is never negative.
 */
export type Verdict = { kind: "weight" } | { kind: "error"; code: ErrorCode };

export function verdictOf(report: Pick<ScaleReport, "status" | "weight">): Verdict {
  switch (report.status) {
    case "stable":
    case "stable_at_zero":
      return report.weight.value < 0 ? { kind: "error", code: "SCALE_UNDER_ZERO" } : { kind: "weight" };
    case "in_motion":
      return { kind: "error", code: "SCALE_UNSTABLE" };
    case "under_zero":
      return { kind: "error", code: "SCALE_UNDER_ZERO" };
    case "over_limit":
      return { kind: "error", code: "SCALE_OVERWEIGHT" };
    case "fault":
    case "needs_calibration":
    case "needs_rezeroing":
      return { kind: "error", code: "SCALE_FAULT" };
  }
}

/**
 * Decides when a reading is trusted: the scale has reported the same settled condition (status,
 * value, exponent, unit) `required` times in a row on the current connection. "In motion" is never
 * trusted. `reset` starts over, so after a reconnect or a zero command the first report alone is
 * never trusted, whatever it says.
 */
export class StabilityTracker {
  #key: string | undefined;
  #count = 0;

  constructor(private readonly required: number) {}

  /** Feeds one report; true when it is now trusted. */
  feed(report: ScaleReport): boolean {
    const { status, weight } = report;
    const key = `${status}/${weight.value}/${weight.exponent}/${weight.unit}`;
    if (key === this.#key) this.#count++;
    else {
      this.#key = key;
      this.#count = 1;
    }
    return status !== "in_motion" && this.#count >= this.required;
  }

  reset(): void {
    this.#key = undefined;
    this.#count = 0;
  }
}
