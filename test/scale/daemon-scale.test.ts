import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TrackedProcess } from "../../simulators/rig/processes.js";
import { Rig } from "../../simulators/rig/rig.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

interface ScaleEvent {
  kind: "weight" | "connected" | "disconnected";
  text?: string;
  trusted?: boolean;
  status?: string;
}

/** The error a call rejected with, so tests can compare codes. */
async function failure(p: Promise<unknown>): Promise<{ code: string; hint?: string; context?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string };
  }
  throw new Error("expected the call to fail");
}

/** Collects `scale` events of one connection; `next` waits for the first event after `from` that matches. */
function recorder(client: RpcClient): {
  events: ScaleEvent[];
  next(from: number, match: (e: ScaleEvent) => boolean): Promise<ScaleEvent>;
} {
  const events: ScaleEvent[] = [];
  client.on("notification", (method, params) => {
    const p = params as { topic: string; data: ScaleEvent };
    if (method === "event" && p.topic === "scale") events.push(p.data);
  });
  return {
    events,
    next: (from, match) =>
      waitUntil("a matching scale event", () => events.slice(from).find(match), 10_000, 10),
  };
}

function untrusted(api: RpcClient): Promise<true> {
  return waitUntil(
    "the daemon to see the scale moving",
    async () =>
      ((await api.call("scale.status")) as { live: { trusted: boolean } | null }).live?.trusted === false ||
      undefined,
    5_000,
    10,
  );
}

describe("termhostd with a simulated scale in another process (socket transport)", () => {
  let rig: Rig;
  let scaleProc: TrackedProcess;
  let sim: RpcClient;
  let daemon: TestDaemon;
  let api: RpcClient;

  beforeAll(async () => {
    rig = await Rig.start();
    const socket = join(rig.dir, "scale.sock");
    const control = join(rig.dir, "scale-control.sock");
    scaleProc = rig.spawn("termhost-sim-scale", process.execPath, [
      builtEntry("simulators/main.js"),
      "scale",
      "--socket",
      socket,
      "--control",
      control,
      "--interval-ms",
      "20",
    ]);
    sim = await waitUntil(
      "the scale simulator's control socket",
      async () => {
        if (scaleProc.child.exitCode !== null)
          throw new Error(`scale simulator exited; see ${scaleProc.logPath}`);
        return RpcClient.connect(control).catch(() => undefined);
      },
      15_000,
      25,
    );
    daemon = await startDaemon(rig, {
      scale: {
        transport: { kind: "socket", paths: [socket], helloTimeoutMs: 500 },
        reportTimeoutMs: 200,
        reconnectInitialMs: 50,
        reconnectMaxMs: 200,
      },
    });
    api = await RpcClient.connect(daemon.socketPath);
    await waitUntil(
      "the daemon to connect the scale",
      async () => ((await api.call("scale.status")) as { online: boolean }).online || undefined,
      10_000,
    );
  });
  afterAll(async () => {
    api?.close();
    sim?.close();
    await daemon?.stop();
    if (scaleProc !== undefined) await rig.stopProcess(scaleProc);
    await rig?.stop();
  });

  it("answers a moving load with SCALE_UNSTABLE, then the settled weight; rates it", async () => {
    await sim.call("scale.set", { grams: 250, settleMs: 3_000 });
    // Until the daemon has seen the new load move, a read answers with the last trusted reading.
    await untrusted(api);
    expect(await failure(api.call("scale.read", { timeoutMs: 200 }))).toMatchObject({
      code: "SCALE_UNSTABLE",
    });
    const weight = (await api.call("scale.read", { timeoutMs: 5_000 })) as Record<string, unknown>;
    expect(weight).toEqual({
      status: "stable",
      value: 250,
      exponent: 0,
      unit: "gram",
      text: "250 g",
      grams: "250",
    });
    // Weigh, rate, print: the read result goes into postage.rate as it is.
    expect(
      await api.call("postage.rate", { weight, mailClass: "letter", table: "sample grams EUR" }),
    ).toMatchObject({ amount: 270, currency: "EUR", mailClass: "letter", upToText: "500" });
    expect(await failure(api.call("postage.rate", { weight, mailClass: "letter" }))).toMatchObject({
      code: "INVALID_PARAMS",
    });
    expect(
      await failure(api.call("postage.rate", { weight, mailClass: "crate", table: "sample grams EUR" })),
    ).toMatchObject({ code: "RATE_CLASS_UNKNOWN" });
    const tables = (await api.call("postage.rate.tables")) as { tables: Array<{ name: string }> };
    expect(tables.tables.map((t) => t.name).sort()).toEqual(["sample grams EUR", "sample ounces USD"]);
  });

  it("keeps a wobbling piece SCALE_UNSTABLE for the whole timeout and refuses an overload at once", async () => {
    await sim.call("scale.set", { grams: 500, settleMs: 0 });
    await sim.call("scale.wobble", { on: true });
    // A read returns at once while the last trusted reading stands: wait until the daemon saw the motion.
    await untrusted(api);
    const started = Date.now();
    expect(await failure(api.call("scale.read", { timeoutMs: 400 }))).toMatchObject({
      code: "SCALE_UNSTABLE",
      hint: "keep the piece still on the scale",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    await sim.call("scale.wobble", { on: false });
    await sim.call("scale.set", { grams: 12_000, settleMs: 0 });
    await waitUntil(
      "the overload to reach the daemon",
      async () =>
        ((await api.call("scale.status")) as { live: { status: string } | null }).live?.status ===
          "over_limit" || undefined,
      5_000,
    );
    expect(await failure(api.call("scale.read", { timeoutMs: 5_000 }))).toMatchObject({
      code: "SCALE_OVERWEIGHT",
    });
    await sim.call("scale.set", { grams: 0, settleMs: 0 });
    await waitUntil(
      "the emptied scale to reach the daemon",
      async () =>
        ((await api.call("scale.status")) as { live: { status: string } | null }).live?.status !==
          "over_limit" || undefined,
      5_000,
    );
    expect(await api.call("scale.read", { timeoutMs: 5_000 })).toMatchObject({ status: "stable_at_zero" });
  });

  it("publishes live weights on the scale topic; unplug gives SCALE_OFFLINE; after replug trust starts over", async () => {
    const watcher = await RpcClient.connect(daemon.socketPath);
    try {
      const rec = recorder(watcher);
      expect(await watcher.call("scale.watch")).toMatchObject({ online: true, topics: ["scale"] });
      let mark = rec.events.length;
      await sim.call("scale.set", { grams: 400, settleMs: 200 });
      await rec.next(mark, (e) => e.kind === "weight" && e.status === "in_motion" && e.trusted === false);
      await rec.next(mark, (e) => e.kind === "weight" && e.text === "400 g" && e.trusted === true);

      mark = rec.events.length;
      await sim.call("scale.unplug");
      await rec.next(mark, (e) => e.kind === "disconnected");
      expect(await failure(api.call("scale.read", { timeoutMs: 200 }))).toMatchObject({
        code: "SCALE_OFFLINE",
      });

      mark = rec.events.length;
      await sim.call("scale.replug");
      await rec.next(mark, (e) => e.kind === "connected");
      const afterConnect = rec.events.findIndex((e, i) => i >= mark && e.kind === "connected");
      const first = await rec.next(afterConnect + 1, (e) => e.kind === "weight");
      expect(first).toMatchObject({ text: "400 g", trusted: false });
      expect(await api.call("scale.read", { timeoutMs: 5_000 })).toMatchObject({ text: "400 g" });
    } finally {
      watcher.close();
    }
  });

  it("drops a connection that sends a malformed frame, says why, and keeps serving", async () => {
    await sim.call("scale.frame", { hex: "7f00010000" });
    const status = await waitUntil(
      "the frame error to be counted",
      async () => {
        const s = (await api.call("scale.status")) as {
          invalidFrames: number;
          lastFrameError: { code: string } | null;
        };
        return s.invalidFrames > 0 ? s : undefined;
      },
      5_000,
    );
    expect(status.lastFrameError).toMatchObject({ code: "SCALE_FRAME_INVALID" });
    expect(await api.call("system.status")).toBeTruthy();
    expect(await api.call("scale.read", { timeoutMs: 5_000 })).toMatchObject({ text: "400 g" });
  });

  it("zeroes the scale through the HID POS control report", async () => {
    expect(await api.call("scale.zero")).toEqual({ ok: true });
    await waitUntil(
      "the simulator to receive the zero command",
      async () =>
        ((await sim.call("scale.status")) as { received: string[] }).received.includes("0202") || undefined,
      5_000,
    );
    expect(await api.call("scale.read", { timeoutMs: 5_000 })).toMatchObject({ status: "stable_at_zero" });
    expect(await failure(api.call("scale.tare"))).toMatchObject({ code: "SCALE_UNSUPPORTED" });
  });

  it("without a configured scale, scale methods answer SCALE_OFFLINE with a hint", async () => {
    api.close();
    await daemon.stop();
    daemon = await startDaemon(rig, { scale: { transport: { kind: "none" } } });
    api = await RpcClient.connect(daemon.socketPath);
    for (const method of ["scale.read", "scale.watch", "scale.zero"]) {
      const e = await failure(api.call(method, method === "scale.read" ? { timeoutMs: 100 } : {}));
      expect(e, method).toMatchObject({ code: "SCALE_OFFLINE", context: { configured: false } });
      expect(e.hint).toContain("scale.transport");
    }
    expect(await api.call("scale.status")).toMatchObject({ configured: false, transport: "none" });
  });
});
