import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { type CommandApdu, serializeCommand } from "../../../src/pcsc/apdu/command.js";
import { parseResponse } from "../../../src/pcsc/apdu/response.js";
import { statusWordOf } from "../../../src/pcsc/apdu/status.js";
import {
  buildGetChallenge,
  buildIssueAuthorization,
  buildReadAuthorization,
  buildReportReversal,
  buildSelect,
  buildVerifyAuthentication,
  buildVerifyCompletion,
  INS_READ_AUTHORIZATION,
  INS_REPORT_REVERSAL,
  PurseSW,
  parseAuthorizationResponse,
  SAM_AID,
  SIMULATOR_MASTER_KEY_HEX,
} from "../../../src/purse/messages/index.js";
import { ReferenceTerminal, transmitTo } from "../../../test/purse/support/terminal.js";
import { PurseCard } from "../purse/purse-card.js";
import { SamCard } from "./sam-card.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const MASTER = hex(SIMULATOR_MASTER_KEY_HEX);
const TERMINAL = hex("5445524D30303031");
const EUR = 978;

let dir: string;
let card: PurseCard;
let sam: SamCard;
let terminal: ReferenceTerminal;

function makeSam(): SamCard {
  const s = new SamCard({ masterKey: MASTER, ledgerPath: join(dir, "ledger.json") });
  s.powerOn();
  return s;
}

function makeCard(masterKey = MASTER, name = "purse.json"): PurseCard {
  const c = new PurseCard({
    masterKey,
    statePath: join(dir, name),
    initial: {
      cardId: hex("0102030405060708"),
      currency: EUR,
      maxBalance: 100_000,
      balance: 10_000,
      counter: 5,
    },
  });
  c.powerOn();
  return c;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "sam-card-"));
  card = makeCard();
  sam = makeSam();
  terminal = new ReferenceTerminal(transmitTo(card), transmitTo(sam), TERMINAL);
});

function samSend(cmd: CommandApdu): { sw: number; data: Buffer } {
  const r = sam.transmit(serializeCommand(cmd));
  if (r instanceof Promise) throw new Error("a purse command of the SAM answers at once");
  return parseResponse(r);
}

async function swOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (e) {
    return statusWordOf(e);
  }
  return 0x9000;
}

describe("SAM: card authentication", () => {
  it("verifies the card's answer to its own fresh challenge, once", async () => {
    await terminal.select();
    const answer = await terminal.authenticate();
    // The same answer again: the challenge was used up.
    expect(samSend(buildVerifyAuthentication(answer)).sw).toBe(PurseSW.CONDITIONS_NOT_SATISFIED);
    // A recorded answer against a new challenge: a replay.
    expect(samSend(buildGetChallenge()).sw).toBe(PurseSW.OK);
    expect(samSend(buildVerifyAuthentication(answer)).sw).toBe(PurseSW.MAC_INVALID);
  });

  it("refuses a card whose key comes from another master key", async () => {
    const impostor = makeCard(hex("00112233445566778899AABBCCDDEEFF"), "impostor.json");
    const t = new ReferenceTerminal(transmitTo(impostor), transmitTo(sam), TERMINAL);
    await t.select();
    expect(await swOf(t.authenticate())).toBe(PurseSW.MAC_INVALID);
  });

  it("needs SELECT first", () => {
    expect(samSend(buildGetChallenge()).sw).toBe(PurseSW.CONDITIONS_NOT_SATISFIED);
    expect(samSend(buildSelect(hex("F0544853414D02"))).sw).toBe(PurseSW.NOT_FOUND);
    expect(samSend(buildSelect(SAM_AID)).data.toString("hex").toUpperCase()).toBe("6F098407F0544853414D01");
  });
});

describe("SAM: authorizations and the ledger", () => {
  it("issues S2 after S1 verifies, records it, and marks it applied when S3 verifies", async () => {
    const { pending, credit } = await terminal.load(1000, EUR);
    expect(pending.authorizationId).toBe(1);
    expect(credit.balanceAfter).toBe(11_000);
    expect(sam.entries).toMatchObject([
      {
        authorizationId: 1,
        status: "applied",
        counter: 5,
        amount: 1000,
        currency: EUR,
        balanceAfter: 11_000,
      },
    ]);
    const file = JSON.parse(readFileSync(join(dir, "ledger.json"), "utf8"));
    expect(file).toMatchObject({
      format: "termhost-sam-ledger",
      nextAuthorizationId: 2,
      authorizations: [{ authorizationId: 1, status: "applied", cardId: "0102030405060708" }],
    });
    expect(makeSam().entries).toEqual(sam.entries);
  });

  it("refuses a forged S1 and an S1 not preceded by a verified authentication", async () => {
    await terminal.select();
    const init = await (async () => {
      await terminal.authenticate();
      return terminal.initializeLoad(1000, EUR);
    })();
    // One bit off, so the forgery always differs from the genuine S1.
    const s1 = Buffer.from(init.s1);
    s1[0] = (s1[0] ?? 0) ^ 0x80;
    const forged = { ...init, s1 };
    expect(samSend(buildIssueAuthorization({ amount: 1000, terminalId: TERMINAL, card: forged })).sw).toBe(
      PurseSW.MAC_INVALID,
    );
    // The failed attempt used up the verified authentication.
    expect(samSend(buildIssueAuthorization({ amount: 1000, terminalId: TERMINAL, card: init })).sw).toBe(
      PurseSW.SECURITY_NOT_SATISFIED,
    );
    await terminal.authenticate();
    // S1 covers the amount: asking the SAM for more than the card signed fails.
    expect(samSend(buildIssueAuthorization({ amount: 5000, terminalId: TERMINAL, card: init })).sw).toBe(
      PurseSW.MAC_INVALID,
    );
    await terminal.authenticate();
    // S1 covers the first session's challenge, not this one.
    expect(samSend(buildIssueAuthorization({ amount: 1000, terminalId: TERMINAL, card: init })).sw).toBe(
      PurseSW.MAC_INVALID,
    );
    expect(sam.entries).toEqual([]);
  });

  it("gives the same authorization for the same terms, and none for other terms until reversal", async () => {
    await terminal.select();
    await terminal.authenticate();
    const a = await terminal.authorize(1000, await terminal.initializeLoad(1000, EUR));
    await terminal.authenticate();
    const b = await terminal.authorize(1000, await terminal.initializeLoad(1000, EUR));
    expect(b).toEqual(a);
    await terminal.authenticate();
    const other = await terminal.initializeLoad(2000, EUR);
    expect(await swOf(terminal.authorize(2000, other))).toBe(PurseSW.CONDITIONS_NOT_SATISFIED);
    const reversed = samSend(buildReportReversal({ authorizationId: a.authorizationId }));
    expect(reversed.sw).toBe(PurseSW.OK);
    expect(parseAuthorizationResponse(reversed.data, INS_REPORT_REVERSAL)).toMatchObject({
      authorizationId: 1,
      status: "reversed",
      amount: 1000,
      counter: 5,
    });
    await terminal.authenticate();
    const c = await terminal.authorize(2000, await terminal.initializeLoad(2000, EUR));
    expect(c.authorizationId).toBe(2);
    expect(sam.entries.map((e) => e.status)).toEqual(["reversed", "issued"]);
  });

  it("checks S3 against its own record and keeps applied and reversed apart", async () => {
    await terminal.select();
    await terminal.authenticate();
    const pending = await terminal.authorize(1000, await terminal.initializeLoad(1000, EUR));
    const credit = await terminal.credit(pending);
    const id = pending.authorizationId;
    expect(
      samSend(buildVerifyCompletion({ authorizationId: id, balanceAfter: 11_001, s3: credit.s3 })).sw,
    ).toBe(PurseSW.MAC_INVALID);
    expect(
      samSend(buildVerifyCompletion({ authorizationId: 9, balanceAfter: 11_000, s3: credit.s3 })).sw,
    ).toBe(PurseSW.REFERENCE_NOT_FOUND);
    expect(sam.entries[0]?.status).toBe("issued");
    expect(
      samSend(buildVerifyCompletion({ authorizationId: id, balanceAfter: 11_000, s3: credit.s3 })).sw,
    ).toBe(PurseSW.OK);
    expect(
      samSend(buildVerifyCompletion({ authorizationId: id, balanceAfter: 11_000, s3: credit.s3 })).sw,
    ).toBe(PurseSW.OK);
    expect(samSend(buildReportReversal({ authorizationId: id })).sw).toBe(PurseSW.CONDITIONS_NOT_SATISFIED);
    const read = samSend(buildReadAuthorization({ authorizationId: id }));
    expect(parseAuthorizationResponse(read.data, INS_READ_AUTHORIZATION)).toMatchObject({
      status: "applied",
      s2: pending.command.s2,
    });
  });

  it("does not accept S3 for a reversed authorization", async () => {
    await terminal.select();
    await terminal.authenticate();
    const pending = await terminal.authorize(1000, await terminal.initializeLoad(1000, EUR));
    const credit = await terminal.credit(pending);
    expect(samSend(buildReportReversal({ authorizationId: 1 })).sw).toBe(PurseSW.OK);
    expect(
      samSend(buildVerifyCompletion({ authorizationId: 1, balanceAfter: credit.balanceAfter, s3: credit.s3 }))
        .sw,
    ).toBe(PurseSW.CONDITIONS_NOT_SATISFIED);
  });
});
