import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import type { CardSpec } from "../../simulators/scenario.js";
import {
  DesfireSession,
  decodeLogRecord,
  desfireCardKey,
  encodeLogRecord,
  FileNo,
  KeyNo,
  localKeyHolder,
  SIMULATOR_DESFIRE_MASTER_KEYS_HEX,
  TERMHOST_AID,
} from "../../src/desfire/protocol/index.js";
import { waitUntil } from "../../src/util/wait.js";
import { withRawCard } from "../support/pcsc-raw.js";

const UID = "04112233445566";
const TERMINAL = Buffer.from("5445524D30303031", "hex");

describe("DESFire card through real pcscd and vpcd", () => {
  let rig: Rig;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "desfire-on-pcscd-"));
    const card: CardSpec = {
      kind: "desfire",
      uid: UID,
      balance: 2_000,
      upperLimit: 50_000,
      statePath: join(dir, "desfire.json"),
    };
    rig = await Rig.start({ slots: [{ card, inserted: true }] });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it("SelectApplication → UID → AuthEV2First(key 2) → Credit + WriteRecord → Commit → GetValue reads it back", async () => {
    const reader = rig.readerNames[0];
    if (reader === undefined) throw new Error("no reader");
    const result = await withRawCard(rig.pcscSocket, reader, async (transmit) => {
      const s = new DesfireSession(transmit);
      await s.selectApplication(TERMHOST_AID);
      const uid = await s.getUid();
      const master = Buffer.from(SIMULATOR_DESFIRE_MASTER_KEYS_HEX[KeyNo.CREDIT], "hex");
      await s.authenticate("ev2-first", KeyNo.CREDIT, localKeyHolder(desfireCardKey(master, uid)));
      const before = await s.getValue(FileNo.VALUE);
      expect(await s.readRecords(FileNo.LOG)).toEqual([]);
      await s.credit(FileNo.VALUE, 750);
      await s.writeRecord(
        FileNo.LOG,
        0,
        encodeLogRecord({
          seq: 1,
          kind: "credit",
          amount: 750,
          balanceAfter: before + 750,
          currency: 978,
          terminalId: TERMINAL,
          authMac: Buffer.alloc(8, 0x11),
        }),
      );
      await s.commitTransaction();
      return { uid, before, after: await s.getValue(FileNo.VALUE), log: await s.readRecords(FileNo.LOG) };
    });
    expect(result.uid.toString("hex")).toBe(UID);
    expect(result.before).toBe(2_000);
    expect(result.after).toBe(2_750);
    expect(result.log.map(decodeLogRecord)).toMatchObject([
      { seq: 1, kind: "credit", amount: 750, balanceAfter: 2_750 },
    ]);
    expect(JSON.parse(readFileSync(join(dir, "desfire.json"), "utf8"))).toMatchObject({ balance: 2_750 });
  });

  it("a CommitTransaction torn after commit (armed over the control socket) drops the card; re-inserted, the value is there", async () => {
    const reader = rig.readerNames[0] as string;
    const master = Buffer.from(SIMULATOR_DESFIRE_MASTER_KEYS_HEX[KeyNo.CREDIT], "hex");
    await rig.control.call("card.tear", { slot: 0, fault: { tear: "after-commit" } });
    const failure = await withRawCard(rig.pcscSocket, reader, async (transmit) => {
      const s = new DesfireSession(transmit);
      await s.selectApplication(TERMHOST_AID);
      await s.authenticate(
        "ev2-first",
        KeyNo.CREDIT,
        localKeyHolder(desfireCardKey(master, await s.getUid())),
      );
      await s.credit(FileNo.VALUE, 250);
      return s.commitTransaction().then(
        () => undefined,
        (e: unknown) => e,
      );
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(Error);
    await waitUntil(
      "the simulator to drop the torn card",
      async () => ((await rig.simStatus()).slots[0]?.inserted ? undefined : true),
      5000,
    );
    await rig.waitForCard(0, false);
    await rig.insert(0);
    const after = await withRawCard(rig.pcscSocket, reader, async (transmit) => {
      const s = new DesfireSession(transmit);
      await s.selectApplication(TERMHOST_AID);
      await s.authenticate(
        "ev2-first",
        KeyNo.CREDIT,
        localKeyHolder(desfireCardKey(master, await s.getUid())),
      );
      return s.getValue(FileNo.VALUE);
    });
    expect(after).toBe(3_000);
    await expect(
      rig.control.call("card.tear", { slot: 0, fault: { command: "CREDIT", when: "mid-write" } }),
    ).rejects.toThrow(/not a DESFire card fault/);
  });
});
