import { describe, expect, it } from "vitest";
import { hex } from "../../../test/pcsc/support/errors.js";
import { formatCommandTrace, formatResponseTrace } from "./trace.js";

describe("APDU trace", () => {
  it("prints header, Lc and data the way technicians read them", () => {
    const select = { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: hex("A0000000041010") };
    expect(formatCommandTrace(select)).toBe("=> 00A40400 07 A0000000041010");
    expect(formatCommandTrace({ ...select, le: 256 })).toBe("=> 00A40400 07 A0000000041010 00");
    expect(formatCommandTrace({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 })).toBe("=> 00840000 08");
  });

  it("prints extended length fields in full", () => {
    expect(formatCommandTrace({ cla: 0, ins: 0xb0, p1: 0, p2: 0, le: 65536 })).toBe("=> 00B00000 000000");
    const big = { cla: 0x80, ins: 0xe2, p1: 0, p2: 0, data: Buffer.alloc(256, 1), le: 2 };
    expect(formatCommandTrace(big)).toBe(`=> 80E20000 000100 ${"01".repeat(256)} 0002`);
  });

  it("masks the data of sensitive commands and lets a hook decide otherwise", () => {
    const key = { cla: 0x80, ins: 0xd8, p1: 0, p2: 1, data: Buffer.alloc(16, 0x42), sensitive: true };
    expect(formatCommandTrace(key)).toBe("=> 80D80001 10 ** 16 bytes masked **");
    const hook = () => ({ commandData: false, responseData: true });
    expect(formatCommandTrace(key, hook)).toContain("42424242");
    expect(formatCommandTrace({ ...key, data: Buffer.from([1]) })).toBe("=> 80D80001 01 ** 1 byte masked **");
  });

  it("prints responses with the meaning of the status word", () => {
    expect(formatResponseTrace({ data: Buffer.alloc(0), sw: 0x9000 })).toBe("<= 9000 (success)");
    expect(formatResponseTrace({ data: hex("0102"), sw: 0x6a82 })).toBe(
      "<= 0102 6A82 (file or application not found)",
    );
    expect(formatResponseTrace({ data: hex("0102"), sw: 0x9000 }, true)).toBe(
      "<= ** 2 bytes masked ** 9000 (success)",
    );
  });
});
