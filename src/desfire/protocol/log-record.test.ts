import { describe, expect, it } from "vitest";
import { isTermhostError } from "../../errors/errors.js";
import { decodeFileSettings, encodeFileSettings } from "./file-settings.js";
import { decodeLogRecord, encodeLogRecord, type LogRecord } from "./log-record.js";

const credit: LogRecord = {
  seq: 7,
  kind: "credit",
  amount: 1_500,
  balanceAfter: 11_500,
  currency: 978,
  terminalId: Buffer.from("5445524D30303031", "hex"),
  authMac: Buffer.from("0102030405060708", "hex"),
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isTermhostError(e) ? e.code : "other";
  }
  return undefined;
}

describe("transaction log record (32 bytes, little-endian)", () => {
  it("lays the fields out as docs/desfire.md says", () => {
    const b = encodeLogRecord(credit);
    expect(b.toString("hex")).toBe(
      `07000000` + `01` + `dc050000` + `ec2c0000` + `d203` + `5445524d30303031` + `0102030405060708` + `00`,
    );
    expect(decodeLogRecord(b)).toEqual(credit);
  });

  it("refuses records termhost never writes", () => {
    const b = encodeLogRecord(credit);
    const badKind = Buffer.from(b);
    badKind[4] = 9;
    const badTail = Buffer.from(b);
    badTail[31] = 1;
    const zeroSeq = Buffer.from(b);
    zeroSeq.writeUInt32LE(0, 0);
    const debitWithMac = Buffer.from(b);
    debitWithMac[4] = 2;
    for (const bad of [badKind, badTail, zeroSeq, debitWithMac, b.subarray(0, 31)]) {
      expect(codeOf(() => decodeLogRecord(bad))).toBe("CARD_NOT_AUTHENTIC");
    }
    expect(codeOf(() => encodeLogRecord({ ...credit, currency: 0 }))).toBe("INTERNAL");
  });
});

describe("GetFileSettings codec", () => {
  it("round-trips the value file and the cyclic log file", () => {
    const access = { read: 1, write: 1, readWrite: 2, change: 0 };
    const value = {
      type: "value" as const,
      comm: "full" as const,
      access,
      lowerLimit: 0,
      upperLimit: 100_000,
      limitedCreditValue: 0,
      limitedCreditEnabled: true,
    };
    expect(encodeFileSettings(value).toString("hex")).toBe("0203112000000000a086010000000000" + "01");
    expect(decodeFileSettings(encodeFileSettings(value))).toEqual(value);
    const log = {
      type: "cyclic-record" as const,
      comm: "mac" as const,
      access,
      recordSize: 32,
      maxRecords: 8,
      currentRecords: 3,
    };
    expect(decodeFileSettings(encodeFileSettings(log))).toEqual(log);
  });

  it("refuses a wrong length, an unknown type and impossible limits", () => {
    expect(codeOf(() => decodeFileSettings(Buffer.from("020311200000", "hex")))).toBe("APDU_MALFORMED");
    expect(codeOf(() => decodeFileSettings(Buffer.from("0003112000000000", "hex")))).toBe("APDU_MALFORMED");
    const inverted = Buffer.from("02031120" + "0a000000" + "01000000" + "00000000" + "01", "hex");
    expect(codeOf(() => decodeFileSettings(inverted))).toBe("APDU_MALFORMED");
  });
});
