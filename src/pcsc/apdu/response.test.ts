import { describe, expect, it } from "vitest";
import { hex, thrownCode } from "../../../test/pcsc/support/errors.js";
import { parseResponse, serializeResponse, sw1Of, sw2Of } from "./response.js";
import { describeStatus, statusError, statusKind, statusWordOf } from "./status.js";

describe("response APDU", () => {
  it("splits data from the status word", () => {
    const r = parseResponse(hex("6F0A8407A00000000410109000"));
    expect(r.data).toEqual(hex("6F0A8407A0000000041010"));
    expect(r.sw).toBe(0x9000);
    expect(sw1Of(r.sw)).toBe(0x90);
    expect(sw2Of(0x6a82)).toBe(0x82);
  });

  it("parses a bare status word and round-trips", () => {
    const r = parseResponse(hex("6A82"));
    expect(r.data.length).toBe(0);
    expect(serializeResponse(r)).toEqual(hex("6A82"));
    expect(serializeResponse({ data: hex("0102"), sw: 0x6100 })).toEqual(hex("01026100"));
  });

  it.each([
    ["", "empty"],
    ["90", "one byte"],
  ])("rejects %s (%s) as APDU_MALFORMED", (wire) => {
    expect(thrownCode(() => parseResponse(hex(wire)))).toBe("APDU_MALFORMED");
  });

  it("rejects a response longer than 65536 data bytes plus SW", () => {
    expect(thrownCode(() => parseResponse(Buffer.alloc(65539)))).toBe("APDU_MALFORMED");
  });

  it("refuses to serialize a status word out of range", () => {
    expect(thrownCode(() => serializeResponse({ data: Buffer.alloc(0), sw: 0x10000 }))).toBe(
      "APDU_MALFORMED",
    );
  });
});

describe("status words", () => {
  it.each([
    [0x9000, "success", "success"],
    [0x6110, "more-data", "16 more response bytes available (GET RESPONSE)"],
    [0x6100, "more-data", "256 more response bytes available (GET RESPONSE)"],
    [0x6c08, "wrong-le", "wrong Le: exact length is 8"],
    [0x6282, "warning", "warning: end of file or record reached before reading Le bytes"],
    [0x63c2, "warning", "warning: counter is 2 (tries left)"],
    [0x6700, "error", "wrong length"],
    [0x6982, "error", "security status not satisfied"],
    [0x6985, "error", "conditions of use not satisfied"],
    [0x6a82, "error", "file or application not found"],
    [0x6a86, "error", "incorrect parameters P1-P2"],
    [0x6d00, "error", "instruction code not supported or invalid"],
    [0x6e00, "error", "class not supported"],
    [0x9123, "unknown", "unknown status 9123"],
  ])("%s is %s: %s", (sw, kind, meaning) => {
    expect(statusKind(sw)).toBe(kind);
    expect(describeStatus(sw)).toBe(meaning);
  });

  it("builds an APDU_STATUS error that carries the status word", () => {
    const e = statusError(0x6982, 0x88);
    expect(e.code).toBe("APDU_STATUS");
    expect(e.context).toMatchObject({ sw: 0x6982, meaning: "security status not satisfied", ins: 0x88 });
    expect(statusWordOf(e)).toBe(0x6982);
    expect(statusWordOf(new Error("x"))).toBeUndefined();
  });
});
