import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { exchange } from "../../src/pcsc/apdu/exchange.js";
import { ReaderManager } from "../../src/pcsc/reader-manager.js";
import { waitForEvent, waitUntil } from "../../src/util/wait.js";

const AID = Buffer.from("F07465726D686F7374", "hex");
const PURSE_AID = Buffer.from("F054485055525345", "hex");

/**
 * Cards that answer the hard way, through real pcscd: a T=0-style card (61xx, 6Cxx) and a purse
 * card that vanishes at a chosen APDU.
 */
describe("card behaviours through real pcscd", () => {
  let rig: Rig;
  let manager: ReaderManager;
  let t0Reader: string;
  let purseReader: string;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-cards-"));
    rig = await Rig.start({
      slots: [
        {
          card: { kind: "select", atr: "3B80800101", aid: AID.toString("hex"), style: "get-response" },
          inserted: true,
        },
        {
          card: {
            kind: "purse",
            cardId: "1122334455667788",
            currency: 978,
            maxBalance: 100_000,
            statePath: join(dir, "purse.json"),
          },
          inserted: true,
        },
      ],
    });
    [t0Reader, purseReader] = rig.readerNames as [string, string];
    process.env.PCSCLITE_CSOCK_NAME = rig.pcscSocket;
    manager = new ReaderManager({ log: pino({ level: "silent" }) });
    manager.start();
    await waitUntil(
      "both cards present",
      () => (manager.list().filter((r) => r.card === "present").length === 2 ? true : undefined),
      10_000,
    );
  });
  afterAll(async () => {
    manager?.stop();
    await rig?.stop();
  });

  it("follows 61xx with GET RESPONSE and re-issues on 6Cxx", async () => {
    const before = (await rig.simStatus()).slots[0]?.apdus ?? 0;
    const [select, read] = await manager.withCard(t0Reader, "shared", async (ch) => [
      await exchange(ch.transmit, { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: AID, le: 256 }),
      await exchange(ch.transmit, { cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 256 }),
    ]);
    // SELECT → 610B → GET RESPONSE Le=0B → FCI 9000
    expect(select?.sw).toBe(0x9000);
    expect(select?.data.toString("hex")).toBe(`6f0b8409${AID.toString("hex")}`);
    // READ BINARY Le=256 → 6C28 → READ BINARY Le=40 → 40 bytes 9000
    expect(read?.sw).toBe(0x9000);
    expect(read?.data).toHaveLength(40);
    expect(read?.data[1]).toBe(8);
    const after = (await rig.simStatus()).slots[0]?.apdus ?? 0;
    expect(after - before).toBe(4);
  });

  it("gives CARD_REMOVED when the card vanishes at a chosen APDU", async () => {
    await rig.control.call("card.tear", { slot: 1, fault: { apdu: 3 } });
    let answered = 0;
    const outcome = await manager
      .withCard(purseReader, "exclusive", async (ch) => {
        for (let i = 0; i < 5; i++) {
          await exchange(ch.transmit, { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: PURSE_AID, le: 256 });
          answered++;
        }
      })
      .catch((e: unknown) => e);
    expect(outcome).toMatchObject({ code: "CARD_REMOVED" });
    expect(answered).toBe(2);
    // The slot is empty now, as after a pulled card; re-inserting brings the same card back.
    await waitUntil(
      "reader to report the card gone",
      () => (manager.list().find((r) => r.name === purseReader)?.card === "absent" ? true : undefined),
      5000,
    );
    const back = waitForEvent(
      manager,
      "card-inserted",
      (v: { name: string }) => v.name === purseReader,
      10_000,
    );
    await rig.insert(1);
    await back;
    const res = await manager.withCard(purseReader, "shared", (ch) =>
      exchange(ch.transmit, { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: PURSE_AID, le: 256 }),
    );
    expect(res.sw).toBe(0x9000);
  });
});
