import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SimScale } from "../../simulators/scale/sim-scale.js";
import { ScaleSocketServer } from "../../simulators/scale/socket-server.js";
import { isTermhostError, type TermhostError } from "../errors/errors.js";
import { waitUntil } from "../util/wait.js";
import { loadScaleProfiles } from "./profiles/load.js";
import { ScaleService } from "./scale-service.js";
import { encodeFrame, FrameDecoder, FrameType, helloFrame } from "./socket-frames.js";
import { SocketScaleEnumerator } from "./socket-transport.js";

const PROFILES = join(import.meta.dirname, "../../device-profiles/scales");
const HELLO = { protocol: 1 as const, vendorId: "1209", productId: "0001" };

function codeOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return isTermhostError(e) ? { code: e.code, reason: e.context?.reason } : e;
  }
  return undefined;
}

describe("scale socket frames", () => {
  it("decodes a hello and reports split across chunks in any place", () => {
    const bytes = Buffer.concat([
      helloFrame(HELLO),
      encodeFrame(FrameType.input, Buffer.from("03040bff6f04", "hex")),
      encodeFrame(FrameType.input, Buffer.from("030202000000", "hex")),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new FrameDecoder("scale");
      const frames = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(frames.map((f) => f.type)).toEqual(["hello", "input", "input"]);
    }
  });

  it("refuses bad frames with SCALE_FRAME_INVALID and a reason", () => {
    const input = encodeFrame(FrameType.input, Buffer.from([3, 4, 2, 0, 1, 0]));
    const cases: Array<[Buffer, string]> = [
      [Buffer.from([0x7f]), "type"],
      [input, "order"],
      [Buffer.concat([helloFrame(HELLO), helloFrame(HELLO)]), "order"],
      [Buffer.concat([helloFrame(HELLO), Buffer.from([FrameType.input, 0, 65])]), "length"],
      [Buffer.concat([helloFrame(HELLO), Buffer.from([FrameType.input, 0, 0])]), "length"],
      [encodeFrame(FrameType.hello, Buffer.from("{not json")), "hello"],
      [helloFrame({ ...HELLO, vendorId: "XYZ1" }), "hello"],
      [Buffer.concat([helloFrame(HELLO), encodeFrame(FrameType.output, Buffer.from([2, 2]))]), "type"],
    ];
    for (const [bytes, reason] of cases) {
      expect(codeOf(() => new FrameDecoder("scale").push(bytes))).toEqual({
        code: "SCALE_FRAME_INVALID",
        reason,
      });
    }
  });
});

describe("scale over a Unix socket", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setUp(): Promise<{
    sim: SimScale;
    server: ScaleSocketServer;
    service: ScaleService;
    errors: TermhostError[];
    enumerator: SocketScaleEnumerator;
  }> {
    const dir = mkdtempSync(join(tmpdir(), "termhost-scale-"));
    const sim = new SimScale({ reportIntervalMs: 10 });
    const server = new ScaleSocketServer(sim, join(dir, "scale.sock"));
    await server.listen();
    cleanups.push(() => server.close());
    const errors: TermhostError[] = [];
    const enumerator = new SocketScaleEnumerator({
      paths: [server.path],
      onFrameError: (e) => errors.push(e),
    });
    const service = new ScaleService({
      enumerator,
      profiles: await loadScaleProfiles(PROFILES),
      reportTimeoutMs: 200,
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    service.start();
    cleanups.push(() => service.stop());
    return { sim, server, service, errors, enumerator };
  }

  it("reads a settled weight, zeroes through an output report, and survives unplug and replug", async () => {
    const { sim, server, service } = await setUp();
    sim.setWeight(250, { settleMs: 100 });
    expect(await service.read({ timeoutMs: 3000 })).toMatchObject({ status: "stable", text: "250 g" });
    await service.zero();
    await waitUntil(
      "the scale to get the zero command",
      () => (sim.received.length > 0 ? true : undefined),
      3000,
    );
    expect(sim.received.map((r) => r.toString("hex"))).toEqual(["0202"]);
    expect(await service.read({ timeoutMs: 3000 })).toMatchObject({ status: "stable_at_zero" });
    await server.unplug();
    await waitUntil("offline", () => (service.snapshot().online ? undefined : true), 3000);
    await expect(service.read({ timeoutMs: 50 })).rejects.toMatchObject({ code: "SCALE_OFFLINE" });
    const firstAfterReplug = new Promise((resolve) => service.once("weight", resolve));
    await server.replug();
    expect(await firstAfterReplug).toMatchObject({ trusted: false });
    expect(await service.read({ timeoutMs: 3000 })).toMatchObject({ status: "stable_at_zero" });
  });

  it("drops a connection that breaks the framing with a typed error and reconnects", async () => {
    const { sim, server, service, errors, enumerator } = await setUp();
    sim.setWeight(100);
    await service.read({ timeoutMs: 3000 });
    const gone = new Promise((resolve) => service.once("disconnected", resolve));
    expect(server.sendRaw(Buffer.from([0x7f, 0, 1, 0]))).toBe(1);
    await gone;
    expect(errors.map((e) => [e.code, e.context?.reason])).toEqual([["SCALE_FRAME_INVALID", "type"]]);
    expect(enumerator.stats().invalidFrames).toBe(1);
    expect(await service.read({ timeoutMs: 3000 })).toMatchObject({ text: "100 g" });
  });

  it("does not list a socket whose peer never says hello", async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-scale-"));
    const path = join(dir, "mute.sock");
    const mute = net.createServer(() => undefined);
    await new Promise<void>((r) => mute.listen(path, r));
    cleanups.push(() => new Promise<void>((r) => mute.close(() => r())));
    const e = new SocketScaleEnumerator({ paths: [path, join(dir, "absent.sock")], helloTimeoutMs: 100 });
    expect(await e.list()).toEqual([]);
  });
});
