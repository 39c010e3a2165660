import { describe, expect, it } from "vitest";
import { ResultCode } from "../constants.js";
import { hex, thrownCode } from "../test-support.js";
import { NakCodec } from "./ack.js";
import { LastTransactionCodec } from "./last-transaction.js";
import { PingCodec } from "./ping.js";
import { type Indicium, IndiciumCodec, PrintRequestCodec } from "./print.js";
import { RefillRequestCodec } from "./refill.js";
import { RegistersCodec } from "./registers.js";
import { okBody, okPayload, refusalPayload } from "./result.js";
import { MeterStatusCodec } from "./status.js";

const TXN = "00112233445566778899aabbccddeeff";
const PRINT = { txnId: TXN, amount: 85, date: "2025-03-07", mailClass: 1, origin: "10115" };
const INDICIUM: Indicium = {
  serial: "PM1",
  txnId: TXN,
  sequence: 3,
  amount: 85,
  date: "2025-03-07",
  mailClass: 1,
  origin: "10115",
  descendingAfter: 915,
  mac: "0102030405060708",
};
const REGISTERS = {
  ascending: 85,
  descending: 915,
  controlTotal: 1000,
  pieceCount: 1,
  batchCount: 1,
  batchValue: 85,
  serial: "PM1",
};

describe("payload codecs", () => {
  it("encodes PRINT INDICIUM byte by byte", () => {
    expect(PrintRequestCodec.serialize(PRINT)).toEqual(hex(`${TXN} 00000055 07E9 03 07 01 05 3130313135`));
    expect(PrintRequestCodec.parse(PrintRequestCodec.serialize(PRINT))).toEqual(PRINT);
  });

  it("encodes registers with 6-byte registers and 4-byte counts", () => {
    expect(RegistersCodec.serialize(REGISTERS)).toEqual(
      hex("000000000055 000000000393 0000000003E8 00000001 00000001 000000000055 03 504D31"),
    );
  });

  it.each([
    ["ping", PingCodec, { nonce: 0xdeadbeef }],
    ["indicium", IndiciumCodec, INDICIUM],
    ["registers", RegistersCodec, REGISTERS],
    [
      "status",
      MeterStatusCodec,
      {
        locked: true,
        refillPending: false,
        inspectionDue: "2025-01-31",
        meterDate: "2025-02-01",
        serial: "PM1",
      },
    ],
    [
      "refill",
      RefillRequestCodec,
      {
        txnId: TXN,
        amount: 0,
        controlTotalBefore: 2 ** 48 - 1,
        nextInspection: "2026-01-01",
        authorization: "ab".repeat(16),
      },
    ],
    ["last none", LastTransactionCodec, { kind: "none" }],
    ["last print", LastTransactionCodec, { kind: "print", indicium: INDICIUM }],
    [
      "last refill",
      LastTransactionCodec,
      { kind: "refill", txnId: TXN, amount: 5000, controlTotalAfter: 9000 },
    ],
  ] as const)("round-trips %s", (_n, codec, value) => {
    const c = codec as { parse(b: Buffer): unknown; serialize(v: unknown): Buffer };
    expect(c.parse(c.serialize(value))).toEqual(value);
  });

  it("refuses malformed payloads with METER_PAYLOAD_INVALID", () => {
    const good = PrintRequestCodec.serialize(PRINT);
    const cases: Buffer[] = [
      good.subarray(0, good.length - 1), // truncated
      Buffer.concat([good, Buffer.of(0)]), // trailing byte
      Buffer.from(good).fill(0, 16, 20), // amount 0
      Buffer.from(good).fill(0xff, 16, 20), // amount above bound
      Buffer.from(good).fill(0x0d, 22, 23), // month 13
      Buffer.from(good).fill(0x00, 24, 25), // mail class 0
      Buffer.concat([good.subarray(0, 25), hex("02 0A0B")]), // origin not printable
    ];
    for (const c of cases) expect(thrownCode(() => PrintRequestCodec.parse(c))).toBe("METER_PAYLOAD_INVALID");
    const broken = RegistersCodec.serialize(REGISTERS);
    broken[5] = 0x56; // ascending 86: no longer adds up to the control total
    expect(thrownCode(() => RegistersCodec.parse(broken))).toBe("METER_PAYLOAD_INVALID");
    expect(thrownCode(() => MeterStatusCodec.parse(hex("80 07E90101 07E90101 01 41")))).toBe(
      "METER_PAYLOAD_INVALID",
    );
    expect(thrownCode(() => LastTransactionCodec.parse(hex("09")))).toBe("METER_PAYLOAD_INVALID");
    expect(thrownCode(() => NakCodec.parse(hex("")))).toBe("METER_PAYLOAD_INVALID");
    expect(thrownCode(() => PrintRequestCodec.serialize({ ...PRINT, amount: 1.5 }))).toBe(
      "METER_PAYLOAD_INVALID",
    );
  });

  it("turns refusals into typed errors", () => {
    expect(okBody(okPayload(hex("AA")), "X")).toEqual(hex("AA"));
    expect(thrownCode(() => okBody(refusalPayload(ResultCode.LOCKED), "X"))).toBe("METER_LOCKED");
    expect(thrownCode(() => okBody(refusalPayload(ResultCode.INSUFFICIENT_FUNDS), "X"))).toBe(
      "METER_INSUFFICIENT_FUNDS",
    );
    expect(thrownCode(() => okBody(refusalPayload(ResultCode.TXN_CONFLICT), "X"))).toBe("METER_REFUSED");
    // Not a refusal of the refill sent: the meter is still finishing one of its own.
    expect(thrownCode(() => okBody(refusalPayload(ResultCode.REFILL_PENDING), "X"))).toBe(
      "METER_REFILL_PENDING",
    );
    expect(thrownCode(() => okBody(hex("01 00"), "X"))).toBe("METER_PAYLOAD_INVALID");
    expect(thrownCode(() => okBody(hex("7F"), "X"))).toBe("METER_PAYLOAD_INVALID");
    expect(thrownCode(() => okBody(hex(""), "X"))).toBe("METER_PAYLOAD_INVALID");
  });
});
