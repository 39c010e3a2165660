import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { isTermhostError } from "../../../src/errors/errors.js";
import { type CommandApdu, serializeCommand } from "../../../src/pcsc/apdu/command.js";
import { parseResponse } from "../../../src/pcsc/apdu/response.js";
import {
  buildAuthenticate,
  buildCredit,
  buildDebit,
  buildGetBalance,
  buildInitializeLoad,
  buildReadLastTransaction,
  buildSelect,
  type CreditCommand,
  MAX_COUNTER,
  mac8,
  macInput,
  PURSE_AID,
  PurseSW,
  parseAuthenticateResponse,
  parseCreditResponse,
  parseDebitResponse,
  parseGetBalanceResponse,
  parseInitializeLoadResponse,
  parseReadLastTransactionResponse,
  purseCardKey,
  SIMULATOR_MASTER_KEY_HEX,
  verifyMac8,
} from "../../../src/purse/messages/index.js";
import { tempPathOf } from "./atomic-file.js";
import { TEAR_POINTS, type TearEvent } from "./faults.js";
import { PurseCard, type PurseCardOptions } from "./purse-card.js";
import { loadPurseState } from "./state.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const MASTER = hex(SIMULATOR_MASTER_KEY_HEX);
const CARD_ID = hex("0102030405060708");
const KEY = purseCardKey(MASTER, CARD_ID);
const TERMINAL = hex("5445524D30303031");
const EUR = 978;

let dir: string;
let statePath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "purse-card-"));
  statePath = join(dir, "purse.json");
});

function newCard(over: Partial<PurseCardOptions> = {}, initial: Partial<PurseCardOptions["initial"]> = {}) {
  let n = 0;
  const card = new PurseCard({
    masterKey: MASTER,
    statePath,
    initial: { cardId: CARD_ID, currency: EUR, maxBalance: 100_000, balance: 10_000, counter: 5, ...initial },
    // Challenges AA.., AB.., …: byte-exact fixtures without a real random source.
    random: (len) => Buffer.alloc(len, 0xaa + n++),
    ...over,
  });
  card.powerOn();
  return card;
}

function send(card: PurseCard, cmd: CommandApdu): { sw: number; data: Buffer } {
  return parseResponse(card.transmit(serializeCommand(cmd)));
}

function selected(over: Partial<PurseCardOptions> = {}, initial: Partial<PurseCardOptions["initial"]> = {}) {
  const card = newCard(over, initial);
  expect(send(card, buildSelect(PURSE_AID)).sw).toBe(PurseSW.OK);
  return card;
}

/** What the SAM would issue: S2 for the card's current counter. */
function authorized(card: PurseCard, amount: number): CreditCommand {
  const counter = card.snapshot.counter;
  const terms = { cardId: CARD_ID, counter, amount, currency: EUR, terminalId: TERMINAL };
  return { ...terms, s2: mac8(KEY, macInput.s2(terms)) };
}

const fileState = () => loadPurseState(statePath);

describe("purse card: selection and framing", () => {
  it("answers SELECT with its FCI and refuses other AIDs, classes and instructions", () => {
    const card = newCard();
    expect(card.transmit(hex("00A4040008F05448505552534500")).toString("hex").toUpperCase()).toBe(
      "6F0A8408F0544850555253459000",
    );
    expect(send(card, buildSelect(hex("A000000003101001"))).sw).toBe(PurseSW.NOT_FOUND);
    expect(send(card, buildGetBalance()).sw).toBe(PurseSW.CONDITIONS_NOT_SATISFIED);
    expect(send(card, buildSelect(PURSE_AID)).sw).toBe(PurseSW.OK);
    expect(card.transmit(hex("8400000000")).toString("hex")).toBe("6e00");
    expect(card.transmit(hex("80EE000000")).toString("hex")).toBe("6d00");
    expect(card.transmit(hex("805C010000")).toString("hex")).toBe("6a86");
    // Case 1 (no Le) is as good as Le = 00: the card answers with its data.
    expect(card.transmit(hex("805C0000")).subarray(-2).toString("hex")).toBe("9000");
    expect(card.transmit(hex("805C000003AABB")).toString("hex")).toBe("6700");
    expect(card.transmit(hex("805C000001AA00")).toString("hex")).toBe("6700");
  });

  it("creates its state file when issued, with balance and counter from the issue data", () => {
    newCard();
    expect(fileState()).toMatchObject({
      balance: 10_000,
      counter: 5,
      currency: EUR,
      maxBalance: 100_000,
      last: null,
    });
  });
});

describe("purse card: authentication and INITIALIZE LOAD", () => {
  it("AUTHENTICATE returns id, counter, card challenge and a MAC over both challenges", () => {
    const card = selected();
    const r = send(card, buildAuthenticate({ terminalChallenge: hex("1122334455667788") }));
    expect(r.sw).toBe(PurseSW.OK);
    expect(r.data.toString("hex").toUpperCase()).toBe(
      `0102030405060708 00000005 AAAAAAAAAAAAAAAA ${mac8(
        KEY,
        hex("01 0102030405060708 00000005 1122334455667788 AAAAAAAAAAAAAAAA"),
      )
        .toString("hex")
        .toUpperCase()}`.replace(/\s+/g, ""),
    );
    const a = parseAuthenticateResponse(r.data);
    const wrongKey = purseCardKey(hex("00".repeat(16)), CARD_ID);
    const input = macInput.authentication({ ...a, terminalChallenge: hex("1122334455667788") });
    expect(verifyMac8(KEY, input, a.mac)).toBe(true);
    expect(verifyMac8(wrongKey, input, a.mac)).toBe(false);
  });

  it("INITIALIZE LOAD needs an authenticated session and signs S1 over the session's challenge", () => {
    const card = selected();
    const init = buildInitializeLoad({ amount: 1000, currency: EUR, terminalId: TERMINAL });
    expect(send(card, init).sw).toBe(PurseSW.SECURITY_NOT_SATISFIED);
    send(card, buildAuthenticate({ terminalChallenge: hex("1122334455667788") }));
    const r = send(card, init);
    expect(r.sw).toBe(PurseSW.OK);
    const p = parseInitializeLoadResponse(r.data);
    expect(p).toMatchObject({ cardId: CARD_ID, currency: EUR, balance: 10_000, counter: 5 });
    const s1Input = macInput.s1({
      ...p,
      amount: 1000,
      terminalId: TERMINAL,
      terminalChallenge: hex("1122334455667788"),
    });
    expect(verifyMac8(KEY, s1Input, p.s1)).toBe(true);
    // A new SELECT ends the session.
    send(card, buildSelect(PURSE_AID));
    expect(send(card, init).sw).toBe(PurseSW.SECURITY_NOT_SATISFIED);
  });

  it("INITIALIZE LOAD refuses another currency, an overflowing amount and an exhausted counter", () => {
    const card = selected();
    send(card, buildAuthenticate({ terminalChallenge: hex("1122334455667788") }));
    expect(send(card, buildInitializeLoad({ amount: 1, currency: 840, terminalId: TERMINAL })).sw).toBe(
      PurseSW.CURRENCY_MISMATCH,
    );
    expect(send(card, buildInitializeLoad({ amount: 90_001, currency: EUR, terminalId: TERMINAL })).sw).toBe(
      PurseSW.BALANCE_LIMIT,
    );
    expect(send(card, buildInitializeLoad({ amount: 90_000, currency: EUR, terminalId: TERMINAL })).sw).toBe(
      PurseSW.OK,
    );
    expect(card.transmit(hex("805000000E 00000000 0978 5445524D30303031 00")).toString("hex")).toBe("6a80");
    const worn = newCard({ statePath: join(dir, "worn.json") }, { counter: MAX_COUNTER });
    send(worn, buildSelect(PURSE_AID));
    send(worn, buildAuthenticate({ terminalChallenge: hex("1122334455667788") }));
    expect(send(worn, buildInitializeLoad({ amount: 1, currency: EUR, terminalId: TERMINAL })).sw).toBe(
      PurseSW.COUNTER_EXHAUSTED,
    );
  });
});

describe("purse card: CREDIT", () => {
  it("credits atomically, increments the counter and proves it with S3", () => {
    const card = selected();
    const cmd = authorized(card, 1000);
    const r = send(card, buildCredit(cmd));
    expect(r.sw).toBe(PurseSW.OK);
    const c = parseCreditResponse(r.data);
    expect(c).toMatchObject({ counter: 5, balanceAfter: 11_000 });
    const s3Input = macInput.s3({
      cardId: CARD_ID,
      counter: 5,
      amount: 1000,
      currency: EUR,
      balanceAfter: 11_000,
      s2: cmd.s2,
    });
    expect(verifyMac8(KEY, s3Input, c.s3)).toBe(true);
    expect(fileState()).toMatchObject({
      balance: 11_000,
      counter: 6,
      last: { type: "credit", counter: 5, proof: c.s3 },
    });
  });

  it("a resent CREDIT for the applied counter returns the stored S3 and credits nothing", () => {
    const card = selected();
    const cmd = authorized(card, 1000);
    const first = card.transmit(serializeCommand(buildCredit(cmd)));
    const fileAfterFirst = readFileSync(statePath, "utf8");
    send(card, buildSelect(PURSE_AID));
    const again = card.transmit(serializeCommand(buildCredit(cmd)));
    expect(again).toEqual(first);
    expect(readFileSync(statePath, "utf8")).toBe(fileAfterFirst);
    expect(card.snapshot).toMatchObject({ balance: 11_000, counter: 6 });
  });

  it("refuses a forged S2, an S2 for another amount or counter, and changes nothing", () => {
    const card = selected();
    const cmd = authorized(card, 1000);
    const before = readFileSync(statePath, "utf8");
    const forged = Buffer.from(cmd.s2);
    forged[0] = (forged[0] ?? 0) ^ 0x01;
    expect(send(card, buildCredit({ ...cmd, s2: forged })).sw).toBe(PurseSW.MAC_INVALID);
    expect(send(card, buildCredit({ ...cmd, amount: 2000 })).sw).toBe(PurseSW.MAC_INVALID);
    expect(send(card, buildCredit({ ...cmd, terminalId: hex("5445524D30303032") })).sw).toBe(
      PurseSW.MAC_INVALID,
    );
    expect(send(card, buildCredit({ ...cmd, counter: 4 })).sw).toBe(PurseSW.COUNTER_MISMATCH);
    expect(send(card, buildCredit({ ...cmd, currency: 840 })).sw).toBe(PurseSW.CURRENCY_MISMATCH);
    expect(readFileSync(statePath, "utf8")).toBe(before);
    // Applied: a forged S2 for the applied counter is not a resend.
    expect(send(card, buildCredit(cmd)).sw).toBe(PurseSW.OK);
    expect(send(card, buildCredit({ ...cmd, s2: forged })).sw).toBe(PurseSW.COUNTER_MISMATCH);
    expect(card.snapshot.balance).toBe(11_000);
  });

  it("an S2 for another card is refused", () => {
    const card = selected();
    const terms = {
      cardId: hex("0102030405060709"),
      counter: 5,
      amount: 1000,
      currency: EUR,
      terminalId: TERMINAL,
    };
    const s2 = mac8(purseCardKey(MASTER, terms.cardId), macInput.s2(terms));
    expect(send(card, buildCredit({ ...terms, s2 })).sw).toBe(PurseSW.MAC_INVALID);
  });

  it("refuses a credit over the maximum balance with 9401", () => {
    const card = selected({}, { balance: 99_500 });
    expect(send(card, buildCredit(authorized(card, 501))).sw).toBe(PurseSW.BALANCE_LIMIT);
    expect(send(card, buildCredit(authorized(card, 500))).sw).toBe(PurseSW.OK);
    expect(card.snapshot.balance).toBe(100_000);
  });
});

describe("purse card: DEBIT, READ LAST TRANSACTION, GET BALANCE", () => {
  it("debits once per counter, with a MAC-protected proof", () => {
    const card = selected();
    const cmd = { counter: 5, amount: 2500, currency: EUR, terminalId: TERMINAL };
    const first = send(card, buildDebit(cmd));
    expect(first.sw).toBe(PurseSW.OK);
    const d = parseDebitResponse(first.data);
    expect(d).toMatchObject({ counter: 5, balanceAfter: 7500 });
    const proofInput = macInput.debitProof({ cardId: CARD_ID, ...cmd, balanceAfter: 7500 });
    expect(verifyMac8(KEY, proofInput, d.proof)).toBe(true);
    expect(send(card, buildDebit(cmd))).toEqual(first);
    expect(send(card, buildDebit({ ...cmd, amount: 2400 })).sw).toBe(PurseSW.COUNTER_MISMATCH);
    expect(card.snapshot).toMatchObject({ balance: 7500, counter: 6 });
    expect(send(card, buildDebit({ ...cmd, counter: 6, amount: 7501 })).sw).toBe(
      PurseSW.INSUFFICIENT_BALANCE,
    );
    expect(send(card, buildDebit({ ...cmd, counter: 6, amount: 7500 })).sw).toBe(PurseSW.OK);
    expect(fileState()).toMatchObject({ balance: 0, counter: 7 });
  });

  it("READ LAST TRANSACTION shows nothing on a fresh card, then the last credit with its S3", () => {
    const card = selected();
    const none = parseReadLastTransactionResponse(send(card, buildReadLastTransaction()).data);
    expect(none).toEqual({ counter: 5, balance: 10_000, last: null });
    const cmd = authorized(card, 1000);
    const c = parseCreditResponse(send(card, buildCredit(cmd)).data);
    const r = parseReadLastTransactionResponse(send(card, buildReadLastTransaction()).data);
    expect(r).toEqual({
      counter: 6,
      balance: 11_000,
      last: {
        type: "credit",
        counter: 5,
        amount: 1000,
        currency: EUR,
        balanceAfter: 11_000,
        terminalId: TERMINAL,
        s2: cmd.s2,
        proof: c.s3,
      },
    });
  });

  it("GET BALANCE gives currency, balance, maximum and counter", () => {
    const card = selected();
    expect(parseGetBalanceResponse(send(card, buildGetBalance()).data)).toEqual({
      currency: EUR,
      balance: 10_000,
      maxBalance: 100_000,
      counter: 5,
    });
  });
});

describe("purse card: persistence and anti-tearing", () => {
  it("keeps its balance across a restart", () => {
    const card = selected();
    send(card, buildCredit(authorized(card, 1000)));
    const restarted = selected({}, { balance: 0, counter: 0 });
    expect(restarted.snapshot).toMatchObject({ balance: 11_000, counter: 6 });
    expect(
      parseReadLastTransactionResponse(send(restarted, buildReadLastTransaction()).data).last?.counter,
    ).toBe(5);
  });

  it("refuses a state file of another card or a damaged one with CONFIG_INVALID", () => {
    newCard();
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return isTermhostError(e) ? e.code : "other";
      }
      return undefined;
    };
    expect(codeOf(() => newCard({}, { cardId: hex("0102030405060709") }))).toBe("CONFIG_INVALID");
    writeFileSync(statePath, '{"format":"termhost-purse-state","version":1');
    expect(codeOf(() => newCard())).toBe("CONFIG_INVALID");
  });

  it.each(TEAR_POINTS)(
    "a CREDIT torn %s leaves old or new state, and the resent CREDIT lands exactly once",
    (when) => {
      const card = selected();
      const cmd = authorized(card, 1000);
      const before = readFileSync(statePath, "utf8");
      const tears: TearEvent[] = [];
      card.on("tear", (e) => tears.push(e));
      card.armFault({ command: "CREDIT", when });
      expect(card.transmit(serializeCommand(buildCredit(cmd)))).toHaveLength(0);
      expect(tears).toEqual([{ reason: when, command: "CREDIT", apdu: 2 }]);
      expect(card.transmit(serializeCommand(buildGetBalance()))).toHaveLength(0);
      const committed = when === "after-commit-before-response";
      if (committed) expect(fileState()).toMatchObject({ balance: 11_000, counter: 6 });
      else expect(readFileSync(statePath, "utf8")).toBe(before);
      expect(existsSync(tempPathOf(statePath))).toBe(when === "mid-write");

      // Power lost: a new card object is the card after the simulator restarted.
      const restarted = selected();
      expect(existsSync(tempPathOf(statePath))).toBe(false);
      expect(restarted.snapshot).toMatchObject(
        committed ? { balance: 11_000, counter: 6 } : { balance: 10_000, counter: 5 },
      );
      const r = send(restarted, buildCredit(cmd));
      expect(r.sw).toBe(PurseSW.OK);
      expect(parseCreditResponse(r.data)).toMatchObject({ counter: 5, balanceAfter: 11_000 });
      expect(fileState()).toMatchObject({ balance: 11_000, counter: 6 });
    },
  );

  it("a torn card comes back on power-on with what its file holds", () => {
    const card = selected();
    card.armFault({ command: "DEBIT", when: "after-commit-before-response" });
    expect(
      card.transmit(
        serializeCommand(buildDebit({ counter: 5, amount: 100, currency: EUR, terminalId: TERMINAL })),
      ),
    ).toHaveLength(0);
    expect(card.torn?.reason).toBe("after-commit-before-response");
    card.powerOff();
    card.powerOn();
    expect(card.torn).toBeUndefined();
    expect(send(card, buildSelect(PURSE_AID)).sw).toBe(PurseSW.OK);
    expect(parseGetBalanceResponse(send(card, buildGetBalance()).data)).toMatchObject({
      balance: 9900,
      counter: 6,
    });
  });

  it("vanishes at the chosen APDU, counted from when the fault was armed", () => {
    const card = selected();
    const tears: TearEvent[] = [];
    card.on("tear", (e) => tears.push(e));
    card.armFault({ apdu: 2 });
    expect(send(card, buildGetBalance()).sw).toBe(PurseSW.OK);
    expect(card.transmit(serializeCommand(buildCredit(authorized(card, 1000))))).toHaveLength(0);
    expect(tears).toEqual([{ reason: "vanish", apdu: 3 }]);
    expect(fileState()).toMatchObject({ balance: 10_000, counter: 5 });
    expect(card.pendingFaults).toBe(0);
  });

  it("faults from the scenario count APDUs from the card's creation", () => {
    const card = newCard({ faults: [{ apdu: 1 }] });
    expect(card.transmit(serializeCommand(buildSelect(PURSE_AID)))).toHaveLength(0);
    expect(card.torn).toEqual({ reason: "vanish", apdu: 1 });
  });
});
