import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MeterSimulator, startMeterSimulator } from "../../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState, TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import { Rig } from "../../simulators/rig/rig.js";
import { builtEntry } from "../../src/util/paths.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { cardFile, purseSpec, samSpec } from "../value/support.js";

const run = promisify(execFile);
const CARD = "e0e0e0e0e0e0e0e0";

describe("the example kiosk script (examples/kiosk.ts)", () => {
  let rig: Rig;
  let meter: MeterSimulator;
  let daemon: TestDaemon;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-example-"));
    rig = await Rig.start({
      slots: [
        { card: purseSpec(dir, CARD), inserted: true },
        { card: samSpec(dir), inserted: true },
      ],
    });
    const line = await rig.ptyPair("meter");
    const stateFile = join(rig.dir, "meter.json");
    const fresh = freshMeterState({ serial: "PM0099" });
    saveMeterState(
      stateFile,
      freshMeterState({
        serial: "PM0099",
        registers: { ...fresh.registers, descending: 5_000, controlTotal: 5_000, serial: "PM0099" },
      }),
    );
    meter = await startMeterSimulator({ port: line.devicePath, stateFile, baudRate: 115_200 });
    daemon = await startDaemon(rig, {
      postage: {
        meters: [
          {
            profile: "termhost simulated meter",
            port: line.hostPath,
            baudRate: 115_200,
            vendorKey: TEST_VENDOR_KEY,
          },
        ],
      },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await meter?.close();
    await rig?.stop();
  });

  it("loads the card and prints a batch, and running it again with the same id changes nothing", async () => {
    const before = cardFile(dir, CARD);
    const args = [
      builtEntry("examples/kiosk.js"),
      "--socket",
      daemon.socketPath,
      "--amount",
      "300",
      "--pieces",
      "2",
      "--id",
      "ex1",
    ];
    const first = await run(process.execPath, args, { timeout: 60_000 });
    expect(first.stdout).toMatch(/^load vtx-\S+: applied, balance \d+$/m);
    expect(first.stdout).toMatch(/^batch \S+: completed, 2\/2 printed$/m);
    expect(cardFile(dir, CARD).balance).toBe(before.balance + 300);
    expect(meter.registers().pieceCount).toBe(2);
    // The daemon's copy of the registers follows every print, not only reconnections.
    const client = await daemon.client();
    const balance = (await client.call("postage.balance", { meter: "termhost simulated meter" })) as {
      registers: { pieceCount: number; ascending: number; descending: number } | null;
    };
    client.close();
    expect(balance.registers).toMatchObject({
      pieceCount: 2,
      ascending: meter.registers().ascending,
      descending: meter.registers().descending,
    });
    await run(process.execPath, args, { timeout: 60_000 });
    expect(cardFile(dir, CARD).balance).toBe(before.balance + 300);
    expect(meter.registers().pieceCount).toBe(2);
  });
});
