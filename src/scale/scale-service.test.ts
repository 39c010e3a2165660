import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SimScale } from "../../simulators/scale/sim-scale.js";
import { hex, rejectedCode } from "../../test/pcsc/support/errors.js";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import type { ScaleProfile } from "./profiles/load.js";
import { ScaleProfileSchema } from "./profiles/schema.js";
import { type LiveWeight, ScaleService } from "./scale-service.js";
import type { ScaleEnumerator } from "./transport.js";

const SIM_PROFILE: ScaleProfile = {
  ...ScaleProfileSchema.parse({
    name: "sim",
    vendorId: "1209",
    productId: "0001",
    control: { reportId: 2, zeroMask: 2 },
  }),
  file: "sim.json",
};

let sim: SimScale;
let service: ScaleService;
let seen: LiveWeight[];

function startService(enumerator: ScaleEnumerator, profiles = [SIM_PROFILE]): ScaleService {
  const s = new ScaleService({
    enumerator,
    profiles,
    reportTimeoutMs: 1000,
    reconnect: { initialMs: 500, maxMs: 4000 },
  });
  s.on("weight", (live) => seen.push(live));
  s.start();
  return s;
}

/** The code a promise settles with ("ok" for a weight), captured before time moves so no rejection goes unhandled. */
function outcome(p: Promise<{ text: string }>): Promise<string> {
  return p.then(
    (w) => `ok ${w.text}`,
    (e: unknown) => (isTermhostError(e) ? e.code : `not a TermhostError: ${String(e)}`),
  );
}

beforeEach(async () => {
  vi.useFakeTimers({ now: 1_000_000 });
  seen = [];
  sim = new SimScale({ reportIntervalMs: 100, capacityGrams: 5000 });
  service = startService(sim);
  await vi.advanceTimersByTimeAsync(0);
});

afterEach(async () => {
  const stopped = service.stop();
  await vi.advanceTimersByTimeAsync(5000);
  await stopped;
  vi.useRealTimers();
});

describe("ScaleService.read", () => {
  it("waits through motion and returns the settled weight", async () => {
    sim.setWeight(250, { settleMs: 1000 });
    const started = Date.now();
    const read = outcome(service.read({ timeoutMs: 3000 }));
    await vi.advanceTimersByTimeAsync(3000);
    expect(await read).toBe("ok 250 g");
    const firstTrusted = seen.find((l) => l.trusted);
    expect(firstTrusted?.status).toBe("stable");
    expect(seen.some((l) => l.status === "in_motion" && l.text !== "250 g")).toBe(true);
    expect(seen.filter((l) => l.status === "in_motion").every((l) => !l.trusted)).toBe(true);
    expect(seen.indexOf(firstTrusted as LiveWeight)).toBeGreaterThan(0);
    expect(Date.now() - started).toBe(3000);
  });

  it("returns a trusted weight at once, and reads zero on an empty scale", async () => {
    await vi.advanceTimersByTimeAsync(300);
    const read = outcome(service.read({ timeoutMs: 0 }));
    await vi.advanceTimersByTimeAsync(0);
    expect(await read).toBe("ok 0 g");
  });

  it("gives SCALE_UNSTABLE when the piece wobbles until the deadline", async () => {
    sim.setWeight(800);
    sim.wobble(true);
    const read = outcome(service.read({ timeoutMs: 2000 }));
    await vi.advanceTimersByTimeAsync(1999);
    expect(seen.every((l) => !l.trusted)).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(await read).toBe("SCALE_UNSTABLE");
  });

  it("returns the weight once a wobbling piece comes to rest within the timeout", async () => {
    sim.setWeight(800);
    sim.wobble(true);
    const read = outcome(service.read({ timeoutMs: 2000 }));
    await vi.advanceTimersByTimeAsync(1000);
    sim.wobble(false);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await read).toBe("ok 800 g");
  });

  it.each([
    ["over the capacity", 6000, null, "SCALE_OVERWEIGHT"],
    ["under zero", -50, null, "SCALE_UNDER_ZERO"],
    ["needing calibration", 100, "needs_calibration", "SCALE_FAULT"],
    ["in fault", 100, "fault", "SCALE_FAULT"],
  ] as const)("rejects a scale %s with %s before the deadline", async (_what, grams, condition, code) => {
    sim.setWeight(grams);
    sim.setCondition(condition);
    const read = outcome(service.read({ timeoutMs: 5000 }));
    await vi.advanceTimersByTimeAsync(300);
    expect(await read).toBe(code);
  });

  it("answers TIMEOUT when a connected scale sends nothing", async () => {
    const quiet: ScaleEnumerator = {
      list: async () => [{ vendorId: "1209", productId: "0001", path: "quiet" }],
      open: async () => ({
        read: (ms) =>
          new Promise((_resolve, reject) =>
            setTimeout(() => reject(new TermhostError("TIMEOUT", "quiet")), ms),
          ),
        write: async () => undefined,
        close: async () => undefined,
      }),
    };
    const other = startService(quiet);
    await vi.advanceTimersByTimeAsync(0);
    const read = outcome(other.read({ timeoutMs: 1500 }));
    await vi.advanceTimersByTimeAsync(1500);
    expect(await read).toBe("TIMEOUT");
    const stopped = other.stop();
    await vi.advanceTimersByTimeAsync(1000);
    await stopped;
  });

  it("refuses a timeout that is not a bounded integer", async () => {
    for (const timeoutMs of [-1, 1.5, Number.NaN, 10_000_000]) {
      expect(await rejectedCode(service.read({ timeoutMs }))).toBe("INVALID_PARAMS");
    }
  });
});

describe("ScaleService across unplug and return", () => {
  it("goes offline on a failed read, then trusts the returned scale only after it repeats a stable reading", async () => {
    sim.setWeight(120);
    await vi.advanceTimersByTimeAsync(500);
    const events: string[] = [];
    service.on("disconnected", () => events.push("disconnected"));
    service.on("connected", () => events.push("connected"));
    sim.unplug();
    await vi.advanceTimersByTimeAsync(0);
    expect(events).toEqual(["disconnected"]);
    expect(service.snapshot()).toMatchObject({ online: false, live: null });

    const offline = outcome(service.read({ timeoutMs: 1000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await offline).toBe("SCALE_OFFLINE");

    seen = [];
    sim.replug();
    const read = outcome(service.read({ timeoutMs: 10_000 }));
    await vi.waitFor(
      async () => {
        await vi.advanceTimersByTimeAsync(100);
        expect(events).toContain("connected");
      },
      { interval: 0 },
    );
    await vi.advanceTimersByTimeAsync(100);
    // The returned scale's first report is already stable, and still not trusted on its own.
    expect(seen[0]).toMatchObject({ status: "stable", text: "120 g", trusted: false });
    await vi.advanceTimersByTimeAsync(100);
    expect(seen[1]).toMatchObject({ status: "stable", trusted: true });
    expect(await read).toBe("ok 120 g");
    expect(sim.opens).toBe(2);
  });

  it("after return, a scale still settling is not trusted until it is stable", async () => {
    sim.unplug();
    await vi.advanceTimersByTimeAsync(600);
    sim.replug();
    sim.setWeight(900, { settleMs: 3000 });
    const read = outcome(service.read({ timeoutMs: 8000 }));
    await vi.advanceTimersByTimeAsync(8000);
    expect(await read).toBe("ok 900 g");
    const trusted = seen.filter((l) => l.trusted);
    expect(trusted.every((l) => l.status === "stable" && l.text === "900 g")).toBe(true);
  });

  it("polls enumeration only while offline, backing off to the maximum", async () => {
    const listed: number[] = [];
    const list = sim.list.bind(sim);
    sim.list = async () => {
      listed.push(Date.now());
      return list();
    };
    await vi.advanceTimersByTimeAsync(5000);
    expect(listed).toEqual([]);
    sim.unplug();
    await vi.advanceTimersByTimeAsync(20_000);
    const gaps = listed.slice(1).map((t, i) => t - (listed[i] ?? 0));
    expect(gaps.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 4000]);
  });
});

describe("ScaleService robustness and commands", () => {
  it("drops malformed reports, counts them, and keeps serving", async () => {
    sim.setWeight(75);
    sim.inject(hex("03 09 02 00 00 00"));
    sim.inject(hex("07"));
    sim.inject(hex(""));
    const read = outcome(service.read({ timeoutMs: 2000 }));
    await vi.advanceTimersByTimeAsync(2000);
    expect(await read).toBe("ok 75 g");
    expect(service.snapshot().invalidReports).toBe(3);
  });

  it("zeroes through the control report and trusts only readings taken after it", async () => {
    sim.setWeight(30);
    await vi.advanceTimersByTimeAsync(500);
    const zero = service.zero();
    await vi.advanceTimersByTimeAsync(0);
    await zero;
    expect(sim.received.map((b) => b.toString("hex"))).toEqual(["0202"]);
    expect(service.snapshot().live).toMatchObject({ text: "30 g", trusted: false });
    const read = outcome(service.read({ timeoutMs: 1000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await read).toBe("ok 0 g");
  });

  it("refuses zero on a scale whose profile has no control report, tare without a tare bit, and either offline", async () => {
    expect(await rejectedCode(service.tare())).toBe("SCALE_UNSUPPORTED");
    const { control: _none, ...plain } = SIM_PROFILE;
    const plainSim = new SimScale();
    const other = startService(plainSim, [plain]);
    await vi.advanceTimersByTimeAsync(0);
    expect(await rejectedCode(other.zero())).toBe("SCALE_UNSUPPORTED");
    plainSim.unplug();
    await vi.advanceTimersByTimeAsync(0);
    expect(await rejectedCode(other.zero())).toBe("SCALE_OFFLINE");
    const stopped = other.stop();
    await vi.advanceTimersByTimeAsync(5000);
    await stopped;
  });

  it("ignores devices that no profile names", async () => {
    const stranger = new SimScale({ vendorId: "dead", productId: "beef" });
    const other = startService(stranger);
    const read = outcome(other.read({ timeoutMs: 1000 }));
    await vi.advanceTimersByTimeAsync(1000);
    expect(await read).toBe("SCALE_OFFLINE");
    expect(stranger.opens).toBe(0);
    const stopped = other.stop();
    await vi.advanceTimersByTimeAsync(5000);
    await stopped;
  });

  it("streams live weights to a watcher until it aborts", async () => {
    await vi.advanceTimersByTimeAsync(300);
    const abort = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const live of service.watch(abort.signal)) got.push(`${live.status} ${live.text}`);
    })();
    sim.setWeight(60, { settleMs: 200 });
    await vi.advanceTimersByTimeAsync(600);
    abort.abort();
    await done;
    expect(got[0]).toBe("stable_at_zero 0 g");
    expect(got).toContain("in_motion 30 g");
    expect(got.at(-1)).toBe("stable 60 g");
  });
});
