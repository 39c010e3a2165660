import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import {
  type DesfireAuthMode,
  DesfireSession,
  decodeLogRecord,
  desfireCardKey,
  encodeLogRecord,
  FileNo,
  KeyNo,
  type LogRecord,
  localKeyHolder,
  SIMULATOR_DESFIRE_MASTER_KEYS_HEX,
  seededRandom,
  TERMHOST_AID,
  type Transmit,
} from "../../../src/desfire/protocol/index.js";
import { isTermhostError } from "../../../src/errors/errors.js";
import { DesfireCard, type DesfireCardOptions } from "./desfire-card.js";
import type { DesfireFault } from "./faults.js";

const UID = Buffer.from("04A1B2C3D4E5F6", "hex");
const MASTER = SIMULATOR_DESFIRE_MASTER_KEYS_HEX.map((h) => Buffer.from(h, "hex"));
const TERMINAL = Buffer.from("5445524D30303031", "hex");

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isTermhostError(e))
      return e.context?.status === undefined ? e.code : `${e.code}:${String(e.context.status)}`;
    return `other: ${String(e)}`;
  }
  return "resolved";
}

function record(seq: number, kind: LogRecord["kind"], amount: number, balanceAfter: number): Buffer {
  return encodeLogRecord({
    seq,
    kind,
    amount,
    balanceAfter,
    currency: 978,
    terminalId: TERMINAL,
    authMac: kind === "debit" ? Buffer.alloc(8) : Buffer.alloc(8, 0xa5),
  });
}

describe("DESFire EV2 card simulator against the host protocol", () => {
  let dir: string;
  let statePath: string;
  let card: DesfireCard;
  let sent: Buffer[];

  const makeCard = (extra: Partial<DesfireCardOptions> = {}): DesfireCard => {
    const c = new DesfireCard({
      uid: UID,
      masterKeys: MASTER,
      statePath,
      initial: { balance: 1_000, upperLimit: 10_000 },
      random: seededRandom("card"),
      ...extra,
    });
    c.powerOn();
    return c;
  };
  const transmitOf =
    (c: DesfireCard, tamper?: (apdu: Buffer) => Buffer): Transmit =>
    async (apdu) => {
      sent.push(apdu);
      return c.transmit(tamper === undefined ? apdu : tamper(apdu));
    };
  const holder = (keyNo: number, masters = MASTER, uid = UID) => {
    const master = masters[keyNo];
    if (master === undefined) throw new Error("no such key");
    return localKeyHolder(desfireCardKey(master, uid), seededRandom(`host-${keyNo}`));
  };
  const open = async (
    keyNo: number = KeyNo.CREDIT,
    mode: DesfireAuthMode = "ev2-first",
    c: DesfireCard = card,
  ): Promise<DesfireSession> => {
    const s = new DesfireSession(transmitOf(c));
    await s.selectApplication(TERMHOST_AID);
    expect(await s.getUid()).toEqual(UID);
    await s.authenticate(mode, keyNo, holder(keyNo));
    return s;
  };
  const load = async (s: DesfireSession, amount: number): Promise<number> => {
    const before = await s.getValue(FileNo.VALUE);
    const records = await s.readRecords(FileNo.LOG);
    const seq = records.length === 0 ? 1 : decodeLogRecord(records.at(-1) as Buffer).seq + 1;
    await s.credit(FileNo.VALUE, amount);
    await s.writeRecord(FileNo.LOG, 0, record(seq, "credit", amount, before + amount));
    await s.commitTransaction();
    return s.getValue(FileNo.VALUE);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "desfire-card-"));
    statePath = join(dir, "card.json");
    sent = [];
    card = makeCard();
  });

  it("loads a value: Credit and its log record land together at CommitTransaction", async () => {
    const s = await open();
    expect(await load(s, 250)).toBe(1_250);
    const records = await s.readRecords(FileNo.LOG);
    expect(records.map(decodeLogRecord)).toMatchObject([
      { seq: 1, kind: "credit", amount: 250, balanceAfter: 1_250 },
    ]);
    expect(card.snapshot.balance).toBe(1_250);
    // GetValue, ReadRecords, Credit, WriteRecord, Commit, GetValue, ReadRecords: one CmdCtr step each.
    expect(s.ev2Counters?.cmdCtr).toBe(7);
  });

  it("keeps the card across a simulator restart (state file) and refuses a damaged state file", async () => {
    await load(await open(), 100);
    const again = makeCard();
    expect(again.snapshot.balance).toBe(1_100);
    expect(again.snapshot.records).toHaveLength(1);
    const raw = JSON.parse(readFileSync(statePath, "utf8")) as Record<string, unknown>;
    writeFileSync(statePath, JSON.stringify({ ...raw, balance: 20_000 }));
    expect(() => makeCard()).toThrow(/balance outside the file's limits/);
  });

  it("debits with the debit key; the debit key may not Credit (91 9D) and the error ends the authentication", async () => {
    const s = await open(KeyNo.DEBIT);
    await s.debit(FileNo.VALUE, 400);
    await s.commitTransaction();
    expect(await s.getValue(FileNo.VALUE)).toBe(600);
    expect(await code(s.credit(FileNo.VALUE, 10))).toBe("DESFIRE_STATUS:PERMISSION_DENIED");
    expect(card.authenticated).toBe(false);
    expect(s.authentication).toBeUndefined();
    expect(await code(s.getValue(FileNo.VALUE))).toBe("INTERNAL");
  });

  it("AbortTransaction, power loss, an error and SelectApplication all discard the shadow", async () => {
    let s = await open();
    await s.credit(FileNo.VALUE, 100);
    await s.abortTransaction();
    await s.commitTransaction();
    expect(await s.getValue(FileNo.VALUE)).toBe(1_000);

    await s.credit(FileNo.VALUE, 100);
    card.powerOff();
    card.powerOn();
    s = await open();
    await s.commitTransaction();
    expect(card.snapshot.balance).toBe(1_000);

    await s.credit(FileNo.VALUE, 100);
    expect(await code(s.debit(FileNo.VALUE, 5_000))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
    s = await open();
    await s.commitTransaction();
    expect(card.snapshot.balance).toBe(1_000);

    await s.credit(FileNo.VALUE, 100);
    await s.selectApplication(TERMHOST_AID);
    expect(card.authenticated).toBe(false);
    s = await open();
    await s.commitTransaction();
    expect(card.snapshot.balance).toBe(1_000);
  });

  it("refuses a Credit past the upper limit and a Debit below the lower one (91 BE), nothing changed", async () => {
    const s = await open();
    expect(await code(s.credit(FileNo.VALUE, 9_001))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
    const t = await open();
    expect(await code(t.debit(FileNo.VALUE, 1_001))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
    const u = await open();
    await u.credit(FileNo.VALUE, 9_000);
    await u.commitTransaction();
    expect(await u.getValue(FileNo.VALUE)).toBe(10_000);
  });

  it("LimitedCredit gives back at most the last committed transaction's debits, once", async () => {
    let s = await open(KeyNo.DEBIT);
    expect(await code(s.limitedCredit(FileNo.VALUE, 1))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
    s = await open(KeyNo.DEBIT);
    await s.debit(FileNo.VALUE, 300);
    await s.commitTransaction();
    expect(await code(s.limitedCredit(FileNo.VALUE, 301))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
    s = await open(KeyNo.DEBIT);
    await s.limitedCredit(FileNo.VALUE, 300);
    await s.commitTransaction();
    expect(await s.getValue(FileNo.VALUE)).toBe(1_000);
    expect(await code(s.limitedCredit(FileNo.VALUE, 1))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
  });

  it("LimitedCredit is refused (91 9D) when the file does not enable it", async () => {
    card = makeCard({
      statePath: join(dir, "nolc.json"),
      initial: { balance: 500, limitedCreditEnabled: false },
    });
    const s = await open(KeyNo.DEBIT);
    await s.debit(FileNo.VALUE, 100);
    await s.commitTransaction();
    expect(await code(s.limitedCredit(FileNo.VALUE, 100))).toBe("DESFIRE_STATUS:PERMISSION_DENIED");
  });

  it.each([
    ["before-commit", 1_000],
    ["mid-write", 1_000],
    ["after-commit", 1_500],
  ] as const)("a CommitTransaction torn %s gets no answer and leaves balance %i", async (tear, balance) => {
    const s = await open();
    await s.credit(FileNo.VALUE, 500);
    await s.writeRecord(FileNo.LOG, 0, record(1, "credit", 500, 1_500));
    card.armFault({ tear });
    const torn = new Promise((resolve) => card.once("tear", resolve));
    expect(await code(s.commitTransaction())).toBe("APDU_MALFORMED");
    expect(await torn).toMatchObject({ reason: tear, command: "CommitTransaction" });
    card.powerOff();
    card.powerOn();
    const t = await open();
    expect(await t.getValue(FileNo.VALUE)).toBe(balance);
    expect((await t.readRecords(FileNo.LOG)).length).toBe(balance === 1_000 ? 0 : 1);
    expect(makeCard().snapshot.balance).toBe(balance);
  });

  it("a lost answer to Credit is a tear: the uncommitted credit is gone with the power", async () => {
    const s = await open();
    card.armFault({ lostAnswer: "Credit" });
    expect(await code(s.credit(FileNo.VALUE, 500))).toBe("APDU_MALFORMED");
    card.powerOn();
    expect(await (await open()).getValue(FileNo.VALUE)).toBe(1_000);
  });

  it("answers 91 1E to a command whose MAC does not verify, and drops the authentication", async () => {
    const s = new DesfireSession(
      transmitOf(card, (apdu) => {
        if (apdu[1] !== 0x0c) return apdu;
        const t = Buffer.from(apdu);
        t[t.length - 2] = (t[t.length - 2] ?? 0) ^ 0x01;
        return t;
      }),
    );
    await s.selectApplication(TERMHOST_AID);
    await s.authenticate("ev2-first", KeyNo.CREDIT, holder(KeyNo.CREDIT));
    expect(await code(s.credit(FileNo.VALUE, 5))).toBe("DESFIRE_STATUS:INTEGRITY_ERROR");
    expect(card.authenticated).toBe(false);
    expect(card.snapshot.balance).toBe(1_000);
  });

  it("keeps TI and CmdCtr over AuthenticateEV2NonFirst with another key", async () => {
    const s = await open(KeyNo.CREDIT);
    await s.getValue(FileNo.VALUE);
    const before = s.ev2Counters;
    await s.authenticate("ev2-non-first", KeyNo.DEBIT, holder(KeyNo.DEBIT));
    expect(s.ev2Counters).toEqual(before);
    expect(s.authentication).toEqual({ kind: "ev2", keyNo: KeyNo.DEBIT });
    await s.debit(FileNo.VALUE, 1);
    await s.commitTransaction();
    expect(await s.getValue(FileNo.VALUE)).toBe(999);
  });

  it("an EV1-only card refuses EV2First (91 1C) and loads over EV1 secure messaging", async () => {
    card = makeCard({ statePath: join(dir, "ev1.json"), ev1Only: true });
    const s = new DesfireSession(transmitOf(card));
    await s.selectApplication(TERMHOST_AID);
    expect(await code(s.authenticate("ev2-first", KeyNo.CREDIT, holder(KeyNo.CREDIT)))).toBe(
      "DESFIRE_STATUS:ILLEGAL_COMMAND",
    );
    const t = await open(KeyNo.CREDIT, "ev1-aes");
    expect(await load(t, 700)).toBe(1_700);
    expect((await t.readRecords(FileNo.LOG)).map(decodeLogRecord)).toMatchObject([{ seq: 1, amount: 700 }]);
    await t.debit(FileNo.VALUE, 200);
    await t.commitTransaction();
    expect(await t.getValue(FileNo.VALUE)).toBe(1_500);
    expect(await code(t.credit(FileNo.VALUE, 9_000))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
  });

  it("keeps the last 7 log records of its 8-record cyclic file, read over additional frames", async () => {
    const s = await open();
    for (let i = 1; i <= 9; i++) await load(s, 10);
    const records = (await s.readRecords(FileNo.LOG)).map(decodeLogRecord);
    expect(records.map((r) => r.seq)).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(sent.some((a) => a[1] === 0xaf)).toBe(true);
    expect(await s.getFileSettings(FileNo.LOG)).toMatchObject({
      type: "cyclic-record",
      comm: "mac",
      recordSize: 32,
      maxRecords: 8,
      currentRecords: 7,
    });
    expect(await s.getFileSettings(FileNo.VALUE)).toEqual({
      type: "value",
      comm: "full",
      access: { read: 1, write: 1, readWrite: 2, change: 0 },
      lowerLimit: 0,
      upperLimit: 10_000,
      limitedCreditValue: 0,
      limitedCreditEnabled: true,
    });
  });

  it("answers 91 A0 to another application, and refuses file commands outside ours", async () => {
    const s = new DesfireSession(transmitOf(card));
    expect(await code(s.selectApplication(Buffer.from("010203", "hex")))).toBe(
      "DESFIRE_STATUS:APPLICATION_NOT_FOUND",
    );
    expect(await code(s.authenticate("ev2-first", KeyNo.CREDIT, holder(KeyNo.CREDIT)))).toBe(
      "DESFIRE_STATUS:NO_SUCH_KEY",
    );
    const t = await open();
    expect(await code(t.getValue(FileNo.LOG))).toBe("DESFIRE_STATUS:FILE_NOT_FOUND");
    expect(await code((await open()).readRecords(FileNo.VALUE))).toBe("DESFIRE_STATUS:FILE_NOT_FOUND");
    expect(await code((await open()).getValue(7))).toBe("DESFIRE_STATUS:FILE_NOT_FOUND");
  });

  it("replays a session byte for byte from the same seeds", async () => {
    const trace = async (path: string): Promise<string[]> => {
      sent = [];
      const c = makeCard({ statePath: path });
      const answers: string[] = [];
      const s = new DesfireSession(async (apdu) => {
        const r = c.transmit(apdu);
        answers.push(`${apdu.toString("hex")}>${r.toString("hex")}`);
        return r;
      });
      await s.selectApplication(TERMHOST_AID);
      await s.authenticate("ev2-first", KeyNo.CREDIT, holder(KeyNo.CREDIT));
      await load(s, 42);
      return answers;
    };
    expect(await trace(join(dir, "a.json"))).toEqual(await trace(join(dir, "b.json")));
  });
});

describe("hostile DESFire answers are refused with typed errors, nothing credited", () => {
  let dir: string;
  let n = 0;
  const fresh = (extra: Partial<DesfireCardOptions> = {}): DesfireCard => {
    const c = new DesfireCard({
      uid: UID,
      masterKeys: MASTER,
      statePath: join(dir, `card-${n++}.json`),
      initial: { balance: 1_000, upperLimit: 10_000 },
      ...extra,
    });
    c.powerOn();
    return c;
  };
  const session = async (c: DesfireCard, mode: DesfireAuthMode = "ev2-first"): Promise<DesfireSession> => {
    const s = new DesfireSession(async (apdu) => c.transmit(apdu));
    await s.selectApplication(TERMHOST_AID);
    const master = MASTER[KeyNo.CREDIT] as Buffer;
    await s.authenticate(mode, KeyNo.CREDIT, localKeyHolder(desfireCardKey(master, await s.getUid())));
    return s;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "desfire-hostile-"));
  });

  const forged = (command: "Credit" | "GetValue" | "CommitTransaction", answer: string): DesfireFault =>
    ({ forge: command, answer }) as DesfireFault;

  it.each([
    ["ev2-first", "missing-mac"],
    ["ev2-first", "wrong-mac"],
    ["ev2-first", "replayed-answer"],
    ["ev2-first", "wrong-ti"],
    ["ev1-aes", "missing-mac"],
    ["ev1-aes", "wrong-mac"],
    ["ev1-aes", "replayed-answer"],
  ] as const)(
    "%s: a %s answer to Credit, GetValue or CommitTransaction is CARD_NOT_AUTHENTIC",
    async (mode, answer) => {
      for (const command of ["Credit", "GetValue", "CommitTransaction"] as const) {
        const c = fresh();
        const s = await session(c, mode);
        // Each command answered genuinely once first, so that a replay has something to replay.
        await s.getValue(FileNo.VALUE);
        await s.credit(FileNo.VALUE, 1);
        await s.commitTransaction();
        await s.credit(FileNo.VALUE, 100);
        c.armFault(forged(command, answer));
        const run =
          command === "Credit"
            ? s.credit(FileNo.VALUE, 100)
            : command === "GetValue"
              ? s.getValue(FileNo.VALUE)
              : s.commitTransaction();
        expect(await code(run), `${command} ${answer}`).toBe("CARD_NOT_AUTHENTIC");
        expect(s.authentication).toBeUndefined();
        expect(c.snapshot.balance).toBe(1_001);
      }
    },
  );

  it("a card whose keys were diversified from another master key fails authentication", async () => {
    const other = MASTER.map((m) => Buffer.from(m.map((b) => b ^ 0x5a)));
    expect(await code(session(fresh({ masterKeys: other })))).toBe("CARD_NOT_AUTHENTIC");
    expect(await code(session(fresh({ masterKeys: other }), "ev1-aes"))).toBe("CARD_NOT_AUTHENTIC");
  });

  it("a card with keys cloned from another card's UID fails authentication", async () => {
    const c = fresh({ diversifyForUid: Buffer.from("04000000000001", "hex") });
    expect(await code(session(c))).toBe("CARD_NOT_AUTHENTIC");
  });

  it("a credit that would pass the file's upper limit is refused by the card (91 BE)", async () => {
    const c = fresh();
    const s = await session(c);
    expect(await code(s.credit(FileNo.VALUE, 9_001))).toBe("DESFIRE_STATUS:BOUNDARY_ERROR");
    expect(c.snapshot.balance).toBe(1_000);
  });
});
