import { describe, expect, it } from "vitest";
import { isTermhostError } from "../../errors/errors.js";
import { type CommandApdu, parseCommand, serializeCommand } from "../../pcsc/apdu/command.js";
import {
  buildAuthenticate,
  buildCredit,
  buildDebit,
  buildGetBalance,
  buildGetChallenge,
  buildInitializeLoad,
  buildIssueAuthorization,
  buildReadAuthorization,
  buildReadLastTransaction,
  buildReportReversal,
  buildSelect,
  buildVerifyAuthentication,
  buildVerifyCompletion,
  fieldProblemOf,
  INS_READ_AUTHORIZATION,
  INS_REPORT_REVERSAL,
  PURSE_AID,
  parseAuthenticateCommand,
  parseAuthenticateResponse,
  parseAuthorizationIdCommand,
  parseAuthorizationResponse,
  parseCreditCommand,
  parseCreditResponse,
  parseDebitCommand,
  parseDebitResponse,
  parseGetBalanceResponse,
  parseGetChallengeCommand,
  parseInitializeLoadCommand,
  parseInitializeLoadResponse,
  parseIssueAuthorizationCommand,
  parseIssueAuthorizationResponse,
  parseReadLastTransactionResponse,
  parseSelectCommand,
  parseSelectResponse,
  parseVerifyAuthenticationCommand,
  parseVerifyCompletionCommand,
  SAM_AID,
  serializeAuthorizationRecord,
  serializeReadLastTransactionResponse,
  serializeSelectResponse,
} from "./index.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");
const wire = (c: CommandApdu): string => serializeCommand(c).toString("hex").toUpperCase();
const TERMINAL = hex("5445524D30303031"); // "TERM0001"
const CARD = hex("0102030405060708");

function problemOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (!isTermhostError(e, "APDU_MALFORMED")) return "not APDU_MALFORMED";
    return fieldProblemOf(e);
  }
  return undefined;
}

describe("purse commands on the wire", () => {
  it("SELECT by AID and its FCI", () => {
    expect(wire(buildSelect(PURSE_AID))).toBe("00A4040008F05448505552534500");
    expect(wire(buildSelect(SAM_AID))).toBe("00A4040007F0544853414D0100");
    expect(serializeSelectResponse({ aid: PURSE_AID }).toString("hex").toUpperCase()).toBe(
      "6F0A8408F054485055525345",
    );
    expect(parseSelectResponse(hex("6F0A8408F054485055525345")).aid).toEqual(PURSE_AID);
    expect(problemOf(() => parseSelectCommand(parseCommand(hex("00A4000008F05448505552534500"))))).toBe(
      "p1p2",
    );
    expect(problemOf(() => parseSelectResponse(hex("6F0B8408F054485055525345")))).toBe("value");
  });

  it("AUTHENTICATE", () => {
    const cmd = buildAuthenticate({ terminalChallenge: hex("1122334455667788") });
    expect(wire(cmd)).toBe("8088000008112233445566778800");
    expect(parseAuthenticateCommand(parseCommand(serializeCommand(cmd))).terminalChallenge).toEqual(
      hex("1122334455667788"),
    );
    const r = parseAuthenticateResponse(hex("0102030405060708 00000005 AABBCCDDEEFF0011 B105D0077CBCD5D5"));
    expect(r).toEqual({
      cardId: CARD,
      counter: 5,
      cardChallenge: hex("AABBCCDDEEFF0011"),
      mac: hex("B105D0077CBCD5D5"),
    });
    expect(problemOf(() => parseAuthenticateResponse(hex("0102030405060708 00000005")))).toBe("length");
  });

  it("INITIALIZE LOAD: amount, BCD currency, terminal id; the response with S1", () => {
    const cmd = buildInitializeLoad({ amount: 1000, currency: 978, terminalId: TERMINAL });
    expect(wire(cmd)).toBe("805000000E000003E809785445524D3030303100");
    expect(parseInitializeLoadCommand(parseCommand(serializeCommand(cmd)))).toEqual({
      amount: 1000,
      currency: 978,
      terminalId: TERMINAL,
    });
    const r = parseInitializeLoadResponse(
      hex("0102030405060708 0978 00002710 00000005 AABBCCDDEEFF0011 1122334455667788"),
    );
    expect(r).toEqual({
      cardId: CARD,
      currency: 978,
      balance: 10_000,
      counter: 5,
      cardChallenge: hex("AABBCCDDEEFF0011"),
      s1: hex("1122334455667788"),
    });
  });

  it("INITIALIZE LOAD refuses a zero amount, a non-BCD or zero currency, and a wrong length", () => {
    const at = (h: string) => () => parseInitializeLoadCommand(parseCommand(hex(h)));
    expect(problemOf(at("805000000E 00000000 0978 5445524D30303031 00"))).toBe("value");
    expect(problemOf(at("805000000E 000003E8 0A78 5445524D30303031 00"))).toBe("value");
    expect(problemOf(at("805000000E 000003E8 0000 5445524D30303031 00"))).toBe("value");
    expect(problemOf(at("805000000E 80000000 0978 5445524D30303031 00"))).toBe("value");
    expect(problemOf(at("805000000D 000003E8 0978 5445524D303030 00"))).toBe("length");
    expect(problemOf(at("805001000E 000003E8 0978 5445524D30303031 00"))).toBe("p1p2");
  });

  it("CREDIT carries counter, amount, currency, terminal id and S2; answers counter, balance, S3", () => {
    const c = { counter: 5, amount: 1000, currency: 978, terminalId: TERMINAL, s2: hex("770230B317729C19") };
    const cmd = buildCredit(c);
    expect(wire(cmd)).toBe("805200001A00000005000003E809785445524D30303031770230B317729C1900");
    expect(parseCreditCommand(parseCommand(serializeCommand(cmd)))).toEqual(c);
    expect(parseCreditResponse(hex("00000005 00002AF8 0011223344556677"))).toEqual({
      counter: 5,
      balanceAfter: 11_000,
      s3: hex("0011223344556677"),
    });
    expect(problemOf(() => parseCreditResponse(hex("00000005 FFFFFFFF 0011223344556677")))).toBe("value");
  });

  it("DEBIT and its proof", () => {
    const c = { counter: 6, amount: 500, currency: 978, terminalId: TERMINAL };
    const cmd = buildDebit(c);
    expect(wire(cmd)).toBe("805400001200000006000001F409785445524D3030303100");
    expect(parseDebitCommand(parseCommand(serializeCommand(cmd)))).toEqual(c);
    expect(parseDebitResponse(hex("00000006 00002904 8899AABBCCDDEEFF"))).toEqual({
      counter: 6,
      balanceAfter: 10_500,
      proof: hex("8899AABBCCDDEEFF"),
    });
  });

  it("GET BALANCE", () => {
    expect(wire(buildGetBalance())).toBe("805C000000");
    expect(parseGetBalanceResponse(hex("0978 00002710 000186A0 00000007"))).toEqual({
      currency: 978,
      balance: 10_000,
      maxBalance: 100_000,
      counter: 7,
    });
  });

  it("READ LAST TRANSACTION with and without a record", () => {
    expect(wire(buildReadLastTransaction())).toBe("805A000000");
    const none = hex(`00000000 00002710 00${"00".repeat(38)}`);
    expect(parseReadLastTransactionResponse(none)).toEqual({ counter: 0, balance: 10_000, last: null });
    expect(serializeReadLastTransactionResponse({ counter: 0, balance: 10_000, last: null })).toEqual(none);
    const credit = hex(
      "00000006 00002AF8 01 00000005 000003E8 0978 00002AF8 5445524D30303031 770230B317729C19 0011223344556677",
    );
    const parsed = parseReadLastTransactionResponse(credit);
    expect(parsed).toEqual({
      counter: 6,
      balance: 11_000,
      last: {
        type: "credit",
        counter: 5,
        amount: 1000,
        currency: 978,
        balanceAfter: 11_000,
        terminalId: TERMINAL,
        s2: hex("770230B317729C19"),
        proof: hex("0011223344556677"),
      },
    });
    expect(serializeReadLastTransactionResponse(parsed)).toEqual(credit);
    const unknownType = Buffer.from(credit);
    unknownType[8] = 0x07;
    expect(problemOf(() => parseReadLastTransactionResponse(unknownType))).toBe("value");
  });
});

describe("SAM commands on the wire", () => {
  it("GET CHALLENGE asks for exactly 8 bytes", () => {
    expect(wire(buildGetChallenge())).toBe("0084000008");
    expect(problemOf(() => parseGetChallengeCommand(parseCommand(hex("0084000010"))))).toBe("length");
  });

  it("VERIFY CARD AUTHENTICATION forwards the card's answer unchanged", () => {
    const card = parseAuthenticateResponse(
      hex("0102030405060708 00000005 AABBCCDDEEFF0011 B105D0077CBCD5D5"),
    );
    const cmd = buildVerifyAuthentication(card);
    expect(wire(cmd)).toBe("80A000001C010203040506070800000005AABBCCDDEEFF0011B105D0077CBCD5D5");
    expect(parseVerifyAuthenticationCommand(parseCommand(serializeCommand(cmd)))).toEqual(card);
  });

  it("ISSUE AUTHORIZATION: amount, terminal id, then the INITIALIZE LOAD answer", () => {
    const card = parseInitializeLoadResponse(
      hex("0102030405060708 0978 00002710 00000005 AABBCCDDEEFF0011 1122334455667788"),
    );
    const cmd = buildIssueAuthorization({ amount: 1000, terminalId: TERMINAL, card });
    expect(wire(cmd)).toBe(
      "80A200002E000003E85445524D30303031010203040506070809780000271000000005AABBCCDDEEFF0011112233445566778800",
    );
    expect(parseIssueAuthorizationCommand(parseCommand(serializeCommand(cmd)))).toEqual({
      amount: 1000,
      terminalId: TERMINAL,
      card,
    });
    expect(parseIssueAuthorizationResponse(hex("00000001 770230B317729C19"))).toEqual({
      authorizationId: 1,
      s2: hex("770230B317729C19"),
    });
  });

  it("VERIFY COMPLETION, REPORT FOR REVERSAL and READ AUTHORIZATION", () => {
    const v = { authorizationId: 1, balanceAfter: 11_000, s3: hex("0011223344556677") };
    expect(wire(buildVerifyCompletion(v))).toBe("80A40000100000000100002AF80011223344556677");
    expect(parseVerifyCompletionCommand(parseCommand(serializeCommand(buildVerifyCompletion(v))))).toEqual(v);
    expect(wire(buildReportReversal({ authorizationId: 258 }))).toBe("80A60000040000010200");
    expect(wire(buildReadAuthorization({ authorizationId: 1 }))).toBe("80A80000040000000100");
    expect(
      parseAuthorizationIdCommand(
        parseCommand(serializeCommand(buildReportReversal({ authorizationId: 258 }))),
        INS_REPORT_REVERSAL,
      ),
    ).toEqual({ authorizationId: 258 });
    const record = {
      authorizationId: 1,
      status: "reversed" as const,
      cardId: CARD,
      counter: 5,
      amount: 1000,
      currency: 978,
      terminalId: TERMINAL,
      s2: hex("770230B317729C19"),
    };
    const bytes = serializeAuthorizationRecord(record);
    expect(bytes.toString("hex").toUpperCase()).toBe(
      "0000000103010203040506070800000005000003E809785445524D30303031770230B317729C19",
    );
    expect(parseAuthorizationResponse(bytes, INS_READ_AUTHORIZATION)).toEqual(record);
    const badStatus = Buffer.from(bytes);
    badStatus[4] = 0x09;
    expect(problemOf(() => parseAuthorizationResponse(badStatus, INS_READ_AUTHORIZATION))).toBe("value");
  });
});
