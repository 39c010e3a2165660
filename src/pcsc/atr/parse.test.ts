import { describe, expect, it } from "vitest";
import { hex, thrownCode } from "../../../test/pcsc/support/errors.js";
import { isTermhostError } from "../../errors/errors.js";
import { parseAtr } from "./parse.js";

const PURSE = "3B 8C 80 01 80 57 54 48 50 55 52 53 45 82 90 00 95";
/** A common SIM: TD1 = 80 (T=0), TD2 = 1F (T=15), TA3 = C7 global. From issue #22. */
const SIM = "3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B 64 40 45 11 00 82 90 00 D5";

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

const codes = (text: string | Uint8Array) => parseAtr(text).warnings.map((w) => w.code);

describe("parseAtr", () => {
  it("parses a T=0/T=1 card with a valid TCK", () => {
    const atr = parseAtr(PURSE);
    expect(atr.convention).toBe("direct");
    expect(atr.indicatedProtocols).toEqual([0, 1]);
    expect(atr.announcedProtocols).toEqual([0, 1]);
    expect(atr.transmissionProtocols).toEqual([0, 1]);
    expect(atr.groups).toEqual([
      { index: 1, td: 0x80 },
      { index: 2, qualifier: 0, td: 0x01 },
      { index: 3, qualifier: 1 },
    ]);
    expect(atr.historicalBytes).toEqual(hex("80 57 54 48 50 55 52 53 45 82 90 00"));
    expect(atr.tck).toBe(0x95);
    expect(atr.tckValid).toBe(true);
    expect(atr.tckRequired).toBe(true);
    expect(atr.global).toBeUndefined();
    expect(atr.warnings).toEqual([]);
    expect([atr.fi, atr.di, atr.fmaxMHz]).toEqual([372, 1, 5]);
  });

  it("defaults to T=0 without TD and then has no TCK", () => {
    const atr = parseAtr("3B 02 14 50");
    expect(atr.transmissionProtocols).toEqual([0]);
    expect(atr.announcedProtocols).toEqual([]);
    expect(atr.tck).toBeUndefined();
    expect(atr.tckRequired).toBe(false);
    expect(atr.historicalBytes).toEqual(hex("14 50"));
    expect(atr.warnings).toEqual([]);
  });

  it("reads Fi, fmax and Di from TA1 and the specific mode from TA2", () => {
    // TA1=96: Fi=512, fmax 5 MHz, Di=32; TA2=91: specific mode T=1, cannot change, implicit.
    const atr = parseAtr(withTck("3F 92 96 91 91 73 FE 45 1F 41 42"));
    expect(atr.convention).toBe("inverse");
    expect([atr.fi, atr.fmaxMHz, atr.di]).toEqual([512, 5, 32]);
    expect(atr.specificMode).toEqual({ protocol: 1, canChange: false, implicitParameters: true });
    expect(atr.groups[2]).toEqual({ index: 3, qualifier: 3, ta: 0xfe, tb: 0x45, tc: 0x1f });
    expect(atr.historicalBytes).toEqual(hex("41 42"));
    expect(atr.transmissionProtocols).toEqual([1, 3]);
  });

  it("reports RFU Fi and Di as undefined rather than guessing", () => {
    const atr = parseAtr("3B 10 7A");
    expect(atr.fi).toBeUndefined();
    expect(atr.di).toBeUndefined();
  });

  it("announces T=15 and decodes its global bytes, but keeps it out of the transmission protocols", () => {
    const atr = parseAtr(SIM);
    expect(atr.indicatedProtocols).toEqual([0, 15]);
    expect(atr.announcedProtocols).toEqual([0, 15]);
    expect(atr.transmissionProtocols).toEqual([0]);
    expect(atr.groups[2]).toEqual({ index: 3, qualifier: 15, ta: 0xc7 });
    // C7: XI = 11 (no preference), UI = 000111 (classes A, B, C).
    expect(atr.global).toEqual({
      ta: 0xc7,
      clockStop: "no-preference",
      classes: ["A", "B", "C"],
      rfuClassBits: 0,
      spu: undefined,
    });
    // T=15 alone makes TCK due (it is not "only T=0").
    expect(atr.tckRequired).toBe(true);
    expect(atr.tckValid).toBe(true);
    expect(atr.historicalBytes.length).toBe(15);
  });

  it("decodes clock stop, RFU class bits and SPU from the first TA and TB for T=15 only", () => {
    // TD1=81 (T=1), TD2=3F (T=15, TA3 TB3 follow): TA3=42 = XI 01 (state L), UI class B; TB3=81 SPU.
    // TD3 absent. A later T=15 group would not override the first.
    const atr = parseAtr(withTck("3B 80 81 3F 42 81"));
    expect(atr.global).toMatchObject({ clockStop: "state-L", classes: ["B"], rfuClassBits: 0, spu: 0x81 });
    expect(atr.transmissionProtocols).toEqual([1]);
    const rfu = parseAtr(withTck("3B 80 80 1F 38"));
    expect(rfu.global).toMatchObject({ clockStop: "not-supported", classes: [], rfuClassBits: 0x38 });
    const twice = parseAtr(withTck("3B 80 80 9F 03 1F 80"));
    expect(twice.global?.ta).toBe(0x03);
    expect(twice.global?.classes).toEqual(["A", "B"]);
  });

  it("keeps T=15 out of the transmission protocols even when it is the only one indicated", () => {
    const atr = parseAtr(withTck("3B 80 1F 01"));
    expect(atr.announcedProtocols).toEqual([15]);
    expect(atr.transmissionProtocols).toEqual([0]);
    expect(atr.tckValid).toBe(true);
    expect(atr.groups[1]).toEqual({ index: 2, qualifier: 15, ta: 0x01 });
  });

  it("explains a T=1 ATR without TCK with the missing-tck warning (issue #22)", () => {
    const atr = parseAtr("3B EE 00 00 81 31 80 43 80 31 80 66 B1 A1 11 01 A0 F6 83 00 90 00");
    expect(codes(atr.bytes)).toEqual(["missing-tck"]);
    expect(atr.tck).toBeUndefined();
    expect(atr.tckValid).toBeUndefined();
    expect(atr.historicalBytes).toEqual(hex("80 31 80 66 B1 A1 11 01 A0 F6 83 00 90 00"));
    expect(atr.transmissionProtocols).toEqual([1]);
  });

  it("reads one byte after the historical bytes of a T=0-only ATR as an unexpected TCK (issue #22)", () => {
    const ta1Only = parseAtr("3B 10 14 50");
    expect(ta1Only.warnings.map((w) => w.code)).toEqual(["unexpected-tck"]);
    expect(ta1Only.tck).toBe(0x50);
    expect(ta1Only.tckValid).toBe(false);
    expect(ta1Only.tckRequired).toBe(false);
    expect(ta1Only.historicalBytes).toEqual(Buffer.alloc(0));
    const long = parseAtr("3B 6D 00 00 00 80 31 80 65 B0 89 35 01 F1 83 00 90 00");
    expect(long.warnings.map((w) => w.code)).toEqual(["unexpected-tck"]);
    expect(long.historicalBytes).toEqual(hex("00 80 31 80 65 B0 89 35 01 F1 83 00 90"));
    expect(long.tck).toBe(0x00);
    // A surplus TCK that checks is still surplus, but says so.
    const checking = parseAtr(withTck("3B 01 41"));
    expect(checking.warnings[0]?.message).toMatch(/checks$/);
  });

  it("reports trailing bytes after the historical bytes and the due TCK", () => {
    const afterTck = parseAtr(Buffer.concat([hex(PURSE), hex("90 00")]));
    expect(afterTck.warnings.map((w) => w.code)).toEqual(["trailing-bytes"]);
    expect(afterTck.tck).toBe(0x95);
    expect(afterTck.tckValid).toBe(true);
    expect(afterTck.trailingBytes).toEqual(hex("90 00"));
    const t0 = parseAtr("3B 01 41 00 00");
    expect(t0.warnings.map((w) => w.code)).toEqual(["trailing-bytes"]);
    expect(t0.tck).toBeUndefined();
    expect(t0.trailingBytes).toEqual(hex("00 00"));
  });

  it("returns a bad due TCK only when asked to", () => {
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
    ["3B 81 01", "missing-historical-bytes"],
    ["3B 82 01 41", "missing-historical-bytes"],
    [`3B 0F ${"41 ".repeat(15)}00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00`, "too-long"],
  ])("rejects %s as ATR_MALFORMED (%s)", (atr, reason) => {
    expect(thrownCode(() => parseAtr(atr))).toBe("ATR_MALFORMED");
    expect(reasonOf(atr)).toBe(reason);
  });
});
