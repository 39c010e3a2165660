import { describe, expect, it } from "vitest";
import { parseReferenceOutput, requireReferenceTools } from "./support/atr-analysis.js";

// Captured from ATR_analysis 1.8; ANSI colour codes kept, as the tool prints them.
const T1_OUTPUT = [
  "ATR: 3B 8A 80 01 80 55 54 48 53 41 4D 82 90 00 8F",
  "+ TS = 3B --> Direct Convention",
  "+ T0 = 8A, Y(1): 1000, K: 10 (historical bytes)",
  "  TD(1) = 80 --> Y(i+1) = 1000,\u001b[35m Protocol T = 0 \u001b[0m",
  "-----",
  "  TD(2) = 01 --> Y(i+1) = 0000,\u001b[35m Protocol T = 1 \u001b[0m",
  "-----",
  "+ Historical bytes: 80 55 54 48 53 41 4D 82 90 00",
  "  Category indicator byte: 80 (compact TLV data object)",
  "+ TCK = 8F (correct checksum)",
].join("\n");

describe("reading ATR_analysis output", () => {
  it("extracts protocols, historical bytes and a valid TCK", () => {
    const r = parseReferenceOutput(T1_OUTPUT);
    expect(r.indicatedProtocols).toEqual([0, 1]);
    expect(r.historicalBytes).toBe("80 55 54 48 53 41 4D 82 90 00");
    expect(r.historicalError).toBeUndefined();
    expect(r.tck).toEqual({ value: 0x8f, valid: true });
  });

  it("extracts a wrong checksum and historical-byte errors", () => {
    const r = parseReferenceOutput(
      "+ Historical bytes: 41\n ERROR! ATR is truncated: 2 byte(s) is/are missing\n+ TCK = 10 WRONG CHECKSUM, expected 11",
    );
    expect(r.tck).toEqual({ value: 0x10, valid: false });
    expect(r.historicalError).toBe("truncated");
    expect(
      parseReferenceOutput("+ Historical bytes: \n ERROR! ATR is too long: 1 extra byte(s).").historicalError,
    ).toBe("too-long");
  });

  it("extracts the clock stop and classes it reads from a TA after TD(2)", () => {
    const r = parseReferenceOutput(
      [
        "  TD(2) = 1F --> Y(i+1) = 0001,\u001b[35m Protocol T = 15 - Global interface bytes following \u001b[0m",
        "  TA(3) = C7 --> \u001b[35mClock stop: no preference - Class accepted by the card: (3G) A 5V B 3V C 1.8V \u001b[0m",
        "  TA(4) = 18 --> \u001b[35mClock stop: not supported - Class accepted by the card: (3G) D RFU E RFU\u001b[0m",
      ].join("\n"),
    );
    expect(r.indicatedProtocols).toEqual([15]);
    expect(r.classIndicators.get(3)).toEqual({ clockStop: "no preference", classes: ["A", "B", "C"] });
    expect(r.classIndicators.get(4)).toEqual({ clockStop: "not supported", classes: ["D", "E"] });
  });

  it("reports no historical bytes when the analyser stopped inside the interface bytes", () => {
    expect(parseReferenceOutput("ATR: 3B 6D 00 00\n  TB(1) = 00 --> x").historicalBytes).toBeUndefined();
  });
});

describe("reference tools check", () => {
  it("fails, naming the missing file and how to install it", () => {
    expect(() => requireReferenceTools(["/nonexistent/ATR_analysis"])).toThrow(
      /\/nonexistent\/ATR_analysis.*`make test` installs pcsc-tools/,
    );
    expect(() => requireReferenceTools()).not.toThrow();
  });
});
