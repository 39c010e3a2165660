import { spawn } from "node:child_process";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { exchange } from "../../src/pcsc/apdu/exchange.js";
import { ReaderManager } from "../../src/pcsc/reader-manager.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitForEvent, waitUntil } from "../../src/util/wait.js";

function cardOf(m: ReaderManager, reader: string): string | undefined {
  return m.list().find((r) => r.name === reader)?.card;
}

const SELECT = { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: Buffer.from("F07465726D686F7374", "hex") };

function probe(rig: Rig, reader: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    [builtEntry("test/support/apdu-probe.js"), rig.pcscSocket, reader, "1"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })));
}

describe("card channel on real pcscd", () => {
  let rig: Rig;
  let manager: ReaderManager;
  let r0: string;
  let r1: string;

  beforeAll(async () => {
    rig = await Rig.start({ slots: [{ inserted: true }, { inserted: false }] });
    [r0, r1] = rig.readerNames as [string, string];
    process.env.PCSCLITE_CSOCK_NAME = rig.pcscSocket;
    manager = new ReaderManager({ log: pino({ level: "silent" }) });
    const present = waitForEvent(manager, "card-inserted", (v: { name: string }) => v.name === r0, 10_000);
    manager.start();
    await present;
  });
  afterAll(async () => {
    manager?.stop();
    await rig?.stop();
  });

  it("exchanges APDUs with the card", async () => {
    const res = await manager.withCard(r0, "shared", (ch) => exchange(ch.transmit, SELECT));
    expect(res.sw).toBe(0x9000);
  });

  it("gives CARD_ABSENT for an empty reader and READER_UNAVAILABLE for an unknown one", async () => {
    await expect(manager.withCard(r1, "shared", async () => 1)).rejects.toMatchObject({
      code: "CARD_ABSENT",
    });
    await expect(manager.withCard("No Such Reader", "shared", async () => 1)).rejects.toMatchObject({
      code: "READER_UNAVAILABLE",
    });
  });

  it("keeps another process off the card while exclusive, and lets it in after", async () => {
    const during = await manager.withCard(r0, "exclusive", async (ch) => {
      await exchange(ch.transmit, SELECT);
      return probe(rig, r0);
    });
    expect(during.code).not.toBe(0);
    expect(during.stderr).toMatch(/0x8010000B/i);
    const after = await probe(rig, r0);
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ sw: "9000" });
  });

  it("runs calls for one reader one after another, never interleaved", async () => {
    const order: string[] = [];
    await Promise.all(
      [1, 2, 3].map((n) =>
        manager.withCard(r0, "shared", async (ch) => {
          order.push(`start ${n}`);
          await exchange(ch.transmit, SELECT);
          await exchange(ch.transmit, SELECT);
          order.push(`end ${n}`);
        }),
      ),
    );
    expect(order).toEqual(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  it("gives CARD_REMOVED when the card is pulled in the middle of a run of APDUs", async () => {
    let sent = 0;
    const outcome = await manager
      .withCard(r0, "exclusive", async (ch) => {
        for (;;) {
          await exchange(ch.transmit, SELECT);
          sent++;
          if (sent === 20) void rig.remove(0);
        }
      })
      .catch((e: unknown) => e);
    expect(isTermhostError(outcome)).toBe(true);
    expect(outcome).toMatchObject({ code: "CARD_REMOVED" });
    expect(sent).toBeGreaterThanOrEqual(20);
    await waitUntil(
      "the manager to see the card gone",
      () => (cardOf(manager, r0) === "absent" ? true : undefined),
      5000,
    );
    const back = waitForEvent(manager, "card-inserted", (v: { name: string }) => v.name === r0, 10_000);
    await rig.insert(0);
    await back;
    const res = await manager.withCard(r0, "shared", (ch) => exchange(ch.transmit, SELECT));
    expect(res.sw).toBe(0x9000);
  });
});
