import { describe, expect, it } from "vitest";
import { hex, thrownCode } from "../../../test/pcsc/support/errors.js";
import { isTermhostError } from "../../errors/errors.js";
import { parseAtr } from "./parse.js";

const PURSE = "3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95";

/** Appends the TCK that makes XOR(T0..TCK) zero. */
function withTck(text: string): Buffer {
  const bytes = hex(text);
  return Buffer.concat([bytes, Buffer.from([bytes.subarray(1).reduce((x, b) => x ^ b, 0)])]);
}

function reasonOf(input: string): unknown {
  try {
    parseAtr(input);
  } catch (e) {
    return isTermhostError(e, "ATR_MALFORMED") ? e.context?.reason : `other error: ${String(e)}`;
  }
  return "no error";
}

describe("parseAtr", () => {
  it("parses a T=0/T=1 card with a valid TCK", () => {
    const atr = parseAtr(PURSE);
    expect(atr.convention).toBe("direct");
    expect(atr.indicatedProtocols).toEqual([0, 1]);
    expect(atr.protocols).toEqual([0, 1]);
    expect(atr.groups).toEqual([{ index: 1, td: 0x80 }, { index: 2, td: 0x01 }, { index: 3 }]);
    expect(atr.historicalBytes).toEqual(hex("80 57 54 48 50 55 52 53 45 82 90 00"));
    expect(atr.tck).toBe(0x95);
    expect(atr.tckValid).toBe(true);
    expect([atr.fi, atr.di, atr.fmaxMHz]).toEqual([372, 1, 5]);
  });

  it("defaults to T=0 without TD and then has no TCK", () => {
    const atr = parseAtr("3B 02 14 50");
    expect(atr.protocols).toEqual([0]);
    expect(atr.indicatedProtocols).toEqual([]);
    expect(atr.tck).toBeUndefined();
    expect(atr.historicalBytes).toEqual(hex("14 50"));
  });

  it("reads Fi, fmax and Di from TA1 and the specific mode from TA2", () => {
    // TA1=96: Fi=512, fmax 5 MHz, Di=32; TA2=91: specific mode T=1, cannot change, implicit.
    const atr = parseAtr(withTck("3F 92 96 91 91 73 FE 45 1F 41 42"));
    expect(atr.convention).toBe("inverse");
    expect([atr.fi, atr.fmaxMHz, atr.di]).toEqual([512, 5, 32]);
    expect(atr.specificMode).toEqual({ protocol: 1, canChange: false, implicitParameters: true });
    expect(atr.groups[2]).toEqual({ index: 3, ta: 0xfe, tb: 0x45, tc: 0x1f });
    expect(atr.historicalBytes).toEqual(hex("41 42"));
    expect(atr.protocols).toEqual([1, 3]);
  });

  it("reports RFU Fi and Di as undefined rather than guessing", () => {
    const atr = parseAtr("3B 10 7A");
    expect(atr.fi).toBeUndefined();
    expect(atr.di).toBeUndefined();
  });

  it("keeps T=15 out of the offered protocols but requires TCK for it", () => {
    const atr = parseAtr(withTck("3B 80 1F 01"));
    expect(atr.indicatedProtocols).toEqual([15]);
    expect(atr.protocols).toEqual([0]);
    expect(atr.tckValid).toBe(true);
    expect(atr.groups[1]).toEqual({ index: 2, ta: 0x01 });
  });

  it("returns a bad TCK only when asked to", () => {
    const bad = PURSE.replace(/95$/, "96");
    expect(reasonOf(bad)).toBe("bad-tck");
    const atr = parseAtr(bad, { allowBadTck: true });
    expect(atr.tckValid).toBe(false);
  });

  it.each([
    ["", "too-short"],
    ["3B", "too-short"],
    ["3C 00", "bad-ts"],
    ["3B XY", "not-hex"],
    ["3B 0", "not-hex"],
    ["3B F0 11 22", "truncated-interface-bytes"],
    ["3B 80 80", "truncated-interface-bytes"],
    ["3B 05 01 02", "missing-historical-bytes"],
    ["3B 81 01 41", "missing-tck"],
    ["3B 81 01", "missing-historical-bytes"],
    ["3B 01 41 00", "extra-bytes"],
    ["3B 80 01 80 00", "extra-bytes"],
    [`3B 0F ${"41 ".repeat(15)}00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`, "too-long"],
  ])("rejects %s as ATR_MALFORMED (%s)", (atr, reason) => {
    expect(thrownCode(() => parseAtr(atr))).toBe("ATR_MALFORMED");
    expect(reasonOf(atr)).toBe(reason);
  });
});
