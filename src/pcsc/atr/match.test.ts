import { describe, expect, it } from "vitest";
import { hex } from "../../../test/pcsc/support/errors.js";
import { matchAtr } from "./match.js";

const pattern = { atr: hex("3B 8C 80 01 80 57 00 00"), mask: hex("FF FF FF FF FF FF 00 F0") };

describe("matchAtr", () => {
  it("compares only the masked bits", () => {
    expect(matchAtr(hex("3B 8C 80 01 80 57 12 0F"), pattern)).toBe(true);
    expect(matchAtr(hex("3B 8C 80 01 80 57 FF 1F"), pattern)).toBe(false);
    expect(matchAtr(hex("3B 8C 80 01 80 58 12 0F"), pattern)).toBe(false);
  });

  it("never matches an ATR of another length", () => {
    expect(matchAtr(hex("3B 8C 80 01 80 57 12"), pattern)).toBe(false);
    expect(matchAtr(hex("3B 8C 80 01 80 57 12 0F 00"), pattern)).toBe(false);
  });

  it("never matches when the mask length differs from the pattern", () => {
    expect(matchAtr(hex("3B 00"), { atr: hex("3B 00"), mask: hex("FF") })).toBe(false);
  });
});
