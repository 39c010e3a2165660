import { describe, expect, it } from "vitest";
import { fromPcscError, pcscReturnCode } from "./pcsc-errors.js";

describe("PC/SC errors", () => {
  it.each([
    ["SCardTransmit error: Card was removed.(0x80100069)", "CARD_REMOVED"],
    ["SCardTransmit error: Transaction failed.(0x80100016)", "CARD_REMOVED"],
    ["SCardConnect error: Access denied.(0x8010006a)", "READER_UNAVAILABLE"],
    ["SCardConnect error: Sharing violation.(0x8010000B)", "BUSY"],
    ["SCardGetStatusChange error: RPC transport error.(0x80100013)", "PCSC_UNAVAILABLE"],
    ["SCardConnect error: No smart card inserted.(0x8010000C)", "CARD_ABSENT"],
    ["SCardTransmit error: something new.(0x801000ff)", "INTERNAL"],
    ["no code at all", "INTERNAL"],
  ])("%s → %s", (message, code) => {
    const e = fromPcscError(new Error(message), "R1", "transmit");
    expect(e.code).toBe(code);
    expect(e.context).toMatchObject({ reader: "R1", operation: "transmit" });
  });

  it("reads the return code the binding embeds", () => {
    expect(pcscReturnCode(new Error("x (0x8010006A)"))).toBe(0x8010006a);
    expect(pcscReturnCode(new Error("x"))).toBeUndefined();
  });
});
