import { describe, expect, it } from "vitest";
import { crc16 } from "./crc16.js";

describe("CRC-16/CCITT-FALSE", () => {
  it("has the catalogue check value 0x29B1 for '123456789'", () => {
    expect(crc16(Buffer.from("123456789", "ascii"))).toBe(0x29b1);
  });
  it("is the initial value 0xFFFF over no bytes", () => {
    expect(crc16(Buffer.alloc(0))).toBe(0xffff);
  });
  it("covers only the given range", () => {
    const b = Buffer.from("xx123456789yy", "ascii");
    expect(crc16(b, 2, 11)).toBe(0x29b1);
  });
});
