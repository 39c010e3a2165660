import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import { parseScaleReport } from "../../src/scale/report.js";
import { hex, rejectedCode } from "../../test/pcsc/support/errors.js";
import { SimScale } from "./sim-scale.js";

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

async function nextReport(read: Promise<Buffer>, ms = 100): Promise<Buffer> {
  await vi.advanceTimersByTimeAsync(ms);
  return read;
}

describe("SimScale reports", () => {
  it("sends the real HID POS bytes for 113.5 oz and 7.85 lb", async () => {
    const ounces = new SimScale({ unit: "ounce", exponent: -1 });
    ounces.setWeight(113.5 * 28.349523125);
    const t = await ounces.open(ounces.info);
    expect((await nextReport(t.read(1000))).toString("hex")).toBe(hex("03 04 0B FF 6F 04").toString("hex"));
    const pounds = new SimScale({ unit: "pound", exponent: -2 });
    pounds.setWeight(7.85 * 453.59237);
    const p = await pounds.open(pounds.info);
    expect((await nextReport(p.read(1000))).toString("hex")).toBe("03040cfe1103");
  });

  it("settles: in motion toward the load, then stable at it", async () => {
    const sim = new SimScale();
    const t = await sim.open(sim.info);
    sim.setWeight(500, { settleMs: 1000 });
    await vi.advanceTimersByTimeAsync(400);
    const moving = parseScaleReport(await nextReport(t.read(1000)));
    expect(moving.status).toBe("in_motion");
    expect(moving.weight.value).toBe(250);
    await vi.advanceTimersByTimeAsync(300);
    expect(parseScaleReport(await nextReport(t.read(1000))).status).toBe("in_motion");
    const settled = parseScaleReport(await nextReport(t.read(1000)));
    expect(settled.status).toBe("stable");
    expect(settled.weight.value).toBe(500);
  });

  it("wobbles around the load while switched on", async () => {
    const sim = new SimScale();
    sim.setWeight(300);
    sim.wobble(true);
    const t = await sim.open(sim.info);
    const a = parseScaleReport(await nextReport(t.read(1000)));
    const b = parseScaleReport(await nextReport(t.read(1000)));
    expect([a.status, b.status]).toEqual(["in_motion", "in_motion"]);
    expect(a.weight.value).not.toBe(b.weight.value);
    sim.wobble(false);
    expect(parseScaleReport(await nextReport(t.read(1000))).status).toBe("stable");
  });

  it("reports over limit, under zero, zero and forced conditions", async () => {
    const sim = new SimScale({ capacityGrams: 1000 });
    const t = await sim.open(sim.info);
    const statusFor = async (grams: number): Promise<string> => {
      sim.setWeight(grams);
      return parseScaleReport(await nextReport(t.read(1000))).status;
    };
    expect(await statusFor(1001)).toBe("over_limit");
    expect(await statusFor(-20)).toBe("under_zero");
    expect(await statusFor(0)).toBe("stable_at_zero");
    sim.setCondition("needs_calibration");
    expect(await statusFor(10)).toBe("needs_calibration");
  });

  it("zeroes on the host's control report and records it", async () => {
    const sim = new SimScale();
    sim.setWeight(40);
    const t = await sim.open(sim.info);
    await t.write(hex("02 02"));
    expect(sim.received.map((b) => b.toString("hex"))).toEqual(["0202"]);
    expect(parseScaleReport(await nextReport(t.read(1000))).status).toBe("stable_at_zero");
  });

  it("times out a read shorter than its report interval", async () => {
    const sim = new SimScale({ reportIntervalMs: 200 });
    const t = await sim.open(sim.info);
    const read = rejectedCode(t.read(50));
    await vi.advanceTimersByTimeAsync(50);
    expect(await read).toBe("TIMEOUT");
  });
});

describe("SimScale unplug and return", () => {
  it("rejects a pending read, leaves the enumeration, and refuses the old handle after replug", async () => {
    const sim = new SimScale();
    const t = await sim.open(sim.info);
    const pending = rejectedCode(t.read(1000));
    sim.unplug();
    expect(await pending).toBe("SCALE_OFFLINE");
    expect(await sim.list()).toEqual([]);
    expect(await rejectedCode(sim.open(sim.info))).toBe("SCALE_OFFLINE");
    sim.replug();
    expect(await sim.list()).toHaveLength(1);
    expect(await rejectedCode(t.read(1000))).toBe("SCALE_OFFLINE");
    const fresh = await sim.open(sim.info);
    expect(parseScaleReport(await nextReport(fresh.read(1000))).status).toBe("stable_at_zero");
    expect(sim.opens).toBe(2);
  });

  it("rejects a read pending at close with context.closed", async () => {
    const sim = new SimScale();
    const t = await sim.open(sim.info);
    const pending = t.read(1000).catch((e: unknown) => e);
    await t.close();
    const e = await pending;
    expect(isTermhostError(e, "SCALE_OFFLINE") && e.context?.closed).toBe(true);
  });
});
