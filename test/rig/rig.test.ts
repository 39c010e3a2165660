import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import { withRawCard } from "../support/pcsc-raw.js";

const SELECT = Buffer.from("00A4040009F07465726D686F7374", "hex");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

describe("rig: isolated pcscd + vpcd + card simulator", () => {
  let rig: Rig;

  beforeAll(async () => {
    rig = await Rig.start({ slots: [{ inserted: true }, { inserted: false }] });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it("runs in a quickack namespace on this machine", () => {
    expect(rig.mode).toBe("netns-quickack");
    expect(rig.netns).toMatch(/^th\d+-\d+$/);
    expect(netnsExists(rig.netns as string)).toBe(true);
  });

  it("answers SELECT through real pcscd and records it in the simulator", async () => {
    const before = (await rig.simStatus()).slots[0]?.apdus ?? 0;
    const responses = await withRawCard(rig.pcscSocket, rig.readerNames[0] as string, async (transmit) => {
      const ok = await transmit(SELECT);
      const wrong = await transmit(Buffer.from("00A4040003A00000", "hex"));
      const badIns = await transmit(Buffer.from("00CA000000", "hex"));
      // Time a batch to report this machine's per-APDU latency through the whole stack.
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) await transmit(SELECT);
      const perApduMs = (performance.now() - t0) / 50;
      return { ok, wrong, badIns, perApduMs };
    });
    expect(responses.ok.toString("hex")).toBe("6f0b8409f07465726d686f73749000");
    expect(responses.wrong.toString("hex")).toBe("6a82");
    expect(responses.badIns.toString("hex")).toBe("6d00");
    // With quick ACKs an APDU takes well under a millisecond or two; delayed ACKs cost ~40 ms.
    console.log(`rig ${rig.mode}: ${responses.perApduMs.toFixed(2)} ms per APDU`);
    expect(responses.perApduMs).toBeLessThan(20);
    const after = (await rig.simStatus()).slots[0]?.apdus ?? 0;
    expect(after - before).toBe(53);
  });

  it("inserts and removes a card on command", async () => {
    expect((await rig.insert(1)).inserted).toBe(true);
    expect((await rig.remove(1)).inserted).toBe(false);
    await expect(rig.insert(7)).rejects.toMatchObject({ code: "INVALID_PARAMS" });
  });

  it("insert resolves once pcscd itself reports the card, and says so clearly when it does not", async () => {
    await rig.waitForCard(1, false);
    // A stopped pcscd polls no reader: the card is connected, but no PC/SC client can see it.
    process.kill(rig.pcscd.pid, "SIGSTOP");
    try {
      await expect(rig.insert(1, 1500)).rejects.toMatchObject({
        code: "TIMEOUT",
        message: expect.stringContaining(
          `card present within 1500 ms: slot 1 (reader "${rig.readerNames[1]}"`,
        ),
      });
    } finally {
      process.kill(rig.pcscd.pid, "SIGCONT");
    }
    await rig.waitForCard(1, true);
    expect((await rig.remove(1)).inserted).toBe(false);
    await rig.waitForCard(1, false);
  });
});

describe("rig fallback without a namespace", () => {
  it("works on host loopback with the slow path, and measures it", async () => {
    const rig = await Rig.start({ netns: "off", slots: [{ inserted: true }] });
    try {
      expect(rig.mode).toBe("host-loopback");
      expect(rig.netns).toBeUndefined();
      // This worker's PC/SC client is bound to the first rig's socket, so the fallback is measured
      // from a child process of its own.
      const probe = spawn(
        process.execPath,
        [builtEntry("test/support/apdu-probe.js"), rig.pcscSocket, rig.readerNames[0] as string, "10"],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let out = "";
      probe.stdout.on("data", (d: Buffer) => {
        out += d.toString();
      });
      const code = await new Promise<number | null>((resolve) => probe.on("exit", resolve));
      expect(code).toBe(0);
      const result = JSON.parse(out) as { sw: string; perApduMs: number };
      expect(result.sw).toBe("9000");
      console.log(`rig host-loopback: ${result.perApduMs.toFixed(2)} ms per APDU`);
    } finally {
      await rig.stop();
    }
  });
});

describe("rig teardown", () => {
  it("stop() ends pcscd and the simulator and deletes the namespace", async () => {
    const rig = await Rig.start();
    const pids = [rig.pcscd.pid, rig.sim.pid];
    const ns = rig.netns as string;
    await rig.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect(netnsExists(ns)).toBe(false);
  });

  it("a guard cleans up when the rig's owner is killed with SIGKILL", async () => {
    const owner = spawn(process.execPath, [builtEntry("test/support/rig-owner.js")], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    onTestFinished(() => {
      owner.kill("SIGKILL");
    });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: owner.stdout });
      rl.once("line", resolve);
      owner.once("exit", (c) => reject(new Error(`owner exited early (${c})`)));
    });
    const info = JSON.parse(line) as { pcscd: number; sim: number; netns: string; inserted: boolean };
    expect(info.inserted).toBe(true);
    expect(alive(info.pcscd) && alive(info.sim)).toBe(true);
    owner.kill("SIGKILL");
    await waitUntil(
      "the guard to end pcscd, the simulator and the namespace",
      () => (!alive(info.pcscd) && !alive(info.sim) && !netnsExists(info.netns) ? true : undefined),
      10_000,
    );
  });
});
