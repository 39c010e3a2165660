import { describe, expect, it } from "vitest";
import { copyInto } from "./copy.js";

describe("copyInto", () => {
  it.each([0, 1, 63, 64, 65, 300])("copies %i bytes at an offset and touches nothing else", (n) => {
    const from = Buffer.from(Array.from({ length: n + 5 }, (_, i) => (i * 7 + 1) & 0xff));
    const to = Buffer.alloc(n + 6, 0xee);
    copyInto(to, 3, from, n);
    expect(to.subarray(0, 3)).toEqual(Buffer.alloc(3, 0xee));
    expect(to.subarray(3, 3 + n)).toEqual(from.subarray(0, n));
    expect(to.subarray(3 + n)).toEqual(Buffer.alloc(3, 0xee));
  });

  it("refuses a copy past either end instead of dropping bytes", () => {
    expect(() => copyInto(Buffer.alloc(4), 2, Buffer.alloc(8), 3)).toThrow(RangeError);
    expect(() => copyInto(Buffer.alloc(8), 0, Buffer.alloc(2), 3)).toThrow(RangeError);
    expect(() => copyInto(Buffer.alloc(100), 0, Buffer.alloc(200), 101)).toThrow(RangeError);
  });
});
