import { describe, expect, it } from "vitest";
import { aesCmac } from "./aes-cmac.js";
import { macEquals, verifyCmac } from "./mac.js";

const KEY = Buffer.from("2b7e151628aed2a6abf7158809cf4f3c", "hex");
const MESSAGE = Buffer.from("6bc1bee22e409f96e93d7e117393172a", "hex");

describe("macEquals", () => {
  it("is true only for equal content and equal length", () => {
    expect(macEquals(Buffer.from("a1b2c3d4", "hex"), Buffer.from("a1b2c3d4", "hex"))).toBe(true);
    expect(macEquals(Buffer.from("a1b2c3d4", "hex"), Buffer.from("a1b2c3d5", "hex"))).toBe(false);
    expect(macEquals(Buffer.from("a1b2c3d4", "hex"), Buffer.from("a1b2c3", "hex"))).toBe(false);
    expect(macEquals(Buffer.alloc(0), Buffer.alloc(0))).toBe(false);
  });
});

describe("verifyCmac", () => {
  const tag = aesCmac(KEY, MESSAGE);

  it("accepts the full tag and its leftmost 8 bytes", () => {
    expect(verifyCmac(KEY, MESSAGE, tag)).toBe(true);
    expect(verifyCmac(KEY, MESSAGE, tag.subarray(0, 8))).toBe(true);
  });

  it("rejects a flipped bit, a tag from the wrong end, and tags too short to mean anything", () => {
    const flipped = Buffer.from(tag);
    flipped[15] = (flipped[15] ?? 0) ^ 0x01;
    expect(verifyCmac(KEY, MESSAGE, flipped)).toBe(false);
    expect(verifyCmac(KEY, MESSAGE, tag.subarray(8))).toBe(false);
    expect(verifyCmac(KEY, MESSAGE, tag.subarray(0, 3))).toBe(false);
    expect(verifyCmac(KEY, MESSAGE, Buffer.concat([tag, Buffer.from([0])]))).toBe(false);
  });
});
