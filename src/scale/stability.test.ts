import { describe, expect, it } from "vitest";
import type { ScaleReport, ScaleStatus } from "./report.js";
import { StabilityTracker, verdictOf } from "./stability.js";

const r = (status: ScaleStatus, value = 100): ScaleReport => ({
  reportId: 3,
  status,
  weight: { value, exponent: 0, unit: "gram" },
});

describe("StabilityTracker", () => {
  it("trusts a settled reading only once it repeats", () => {
    const t = new StabilityTracker(2);
    expect(t.feed(r("stable"))).toBe(false);
    expect(t.feed(r("stable"))).toBe(true);
    expect(t.feed(r("stable"))).toBe(true);
    expect(t.feed(r("stable", 101))).toBe(false);
    expect(t.feed(r("stable", 101))).toBe(true);
  });

  it("never trusts a moving reading, however often it repeats", () => {
    const t = new StabilityTracker(2);
    for (let i = 0; i < 10; i++) expect(t.feed(r("in_motion"))).toBe(false);
  });

  it("starts over after reset, so the first report after a reconnect is not trusted", () => {
    const t = new StabilityTracker(3);
    t.feed(r("stable"));
    t.feed(r("stable"));
    expect(t.feed(r("stable"))).toBe(true);
    t.reset();
    expect(t.feed(r("stable"))).toBe(false);
    expect(t.feed(r("stable"))).toBe(false);
    expect(t.feed(r("stable"))).toBe(true);
  });
});

describe("verdictOf", () => {
  it.each([
    ["stable", 5, "weight"],
    ["stable_at_zero", 0, "weight"],
    ["stable", -5, "SCALE_UNDER_ZERO"],
    ["in_motion", 5, "SCALE_UNSTABLE"],
    ["under_zero", 5, "SCALE_UNDER_ZERO"],
    ["over_limit", 5, "SCALE_OVERWEIGHT"],
    ["fault", 0, "SCALE_FAULT"],
    ["needs_calibration", 0, "SCALE_FAULT"],
    ["needs_rezeroing", 0, "SCALE_FAULT"],
  ] as const)("%s with %i → %s", (status, value, expected) => {
    const v = verdictOf(r(status, value));
    expect(v.kind === "weight" ? "weight" : v.code).toBe(expected);
  });
});
