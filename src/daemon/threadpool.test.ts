import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../util/paths.js";
import { THREADPOOL_RESERVE, threadpoolSize } from "../util/threadpool.js";
import { Config } from "./config.js";
import { planThreadpool, threadsNeeded } from "./threadpool.js";

function configWith(meters: number, scale: "hid" | "none"): Config {
  return Config.parse({
    mode: "simulation",
    postage: {
      meters: Array.from({ length: meters }, (_, i) => ({ profile: "sim-meter", port: `/dev/ttyUSB${i}` })),
    },
    scale: { transport: { kind: scale } },
  });
}

describe("threadpool plan", () => {
  it("reads UV_THREADPOOL_SIZE the way libuv does", () => {
    expect(threadpoolSize({})).toBe(4);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "16" })).toBe(16);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "0" })).toBe(1);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "x" })).toBe(1);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: "9000" })).toBe(1024);
  });

  it("gives the readers what the meters, the scale and the reserve leave", () => {
    const plan = planThreadpool(configWith(1, "hid"), { UV_THREADPOOL_SIZE: "16" });
    expect(plan).toEqual({ threads: 16, meters: 1, scales: 1, pcscCalls: 12, reserve: 2, shortBy: 0 });
  });

  it("keeps one PC/SC call on a pool too small for the reserve, and says by how much it is short", () => {
    const plan = planThreadpool(configWith(2, "hid"), {});
    expect(plan.pcscCalls).toBe(1);
    expect(plan.reserve).toBe(0);
    expect(plan.shortBy).toBe(THREADPOOL_RESERVE);
    expect(threadsNeeded(plan)).toBe(2 + 1 + 4 + THREADPOOL_RESERVE);
  });

  it("starts under systemd with a pool that keeps the reserve for four meters, a HID scale and four PC/SC calls", () => {
    const unit = readFileSync(join(projectRoot(), "systemd", "termhostd.service"), "utf8");
    const set = /^Environment=UV_THREADPOOL_SIZE=(\d+)$/m.exec(unit);
    expect(set).not.toBeNull();
    const plan = planThreadpool(configWith(4, "hid"), { UV_THREADPOOL_SIZE: set?.[1] ?? "" });
    expect(plan.shortBy).toBe(0);
    expect(plan.pcscCalls).toBeGreaterThanOrEqual(4);
  });
});
