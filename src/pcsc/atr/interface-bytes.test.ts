import { describe, expect, it } from "vitest";
import { describeInterfaceBytes } from "./interface-bytes.js";
import { parseAtr } from "./parse.js";

const bytesOf = (atr: string) =>
  Object.fromEntries(
    describeInterfaceBytes(parseAtr(atr, { allowBadTck: true }).groups).map((b) => [b.name, b]),
  );

describe("describeInterfaceBytes: each byte by the protocol ISO 7816-3 gives it", () => {
  it("reads the byte after TD(i-1) = T=15 as global: clock stop XI and class indicator UI", () => {
    const b = bytesOf("3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B 64 40 45 11 00 82 90 00 D5");
    expect(b.TA1).toMatchObject({ owner: "global", meaning: expect.stringContaining("Fi=512, Di=32") });
    expect(b.TD1).toMatchObject({ owner: "structural", meaning: "T=0; TD2 follow" });
    expect(b.TD2).toMatchObject({
      owner: "structural",
      meaning: "T=15 (global interface bytes); TA3 follow",
    });
    expect(b.TA3?.owner).toBe("global");
    expect(b.TA3?.meaning).toBe(
      "XI: clock stop in state L or H, no preference; UI: classes A (5 V), B (3 V), C (1.8 V)",
    );
    expect(b.TA3?.meaning).not.toContain("IFSC");
  });

  it("reads the bytes after TD(i-1) = T=1 as T=1's IFSC, BWI/CWI and error detection code", () => {
    // TD1=81 (T=1), TD2=B1 (T=1: TA3 TB3 TD3), TD3=1F (T=15: TA4 = 03).
    const b = bytesOf("3B 80 81 B1 FE 45 1F 03 D2");
    expect(b.TA3).toMatchObject({ owner: "T=1", meaning: "IFSC 254 bytes (card's information field size)" });
    expect(b.TB3).toMatchObject({ owner: "T=1", meaning: expect.stringMatching(/^BWI 4, CWI 5/) });
    expect(b.TA4).toMatchObject({
      owner: "global",
      meaning: expect.stringContaining("classes A (5 V), B (3 V)"),
    });
    expect(b.TA4?.meaning).toContain("clock stop not supported");
  });

  it("names SPU, RFU classes, T=0's TC2 and bytes ISO 7816-3 leaves undefined", () => {
    // TD1=E0 (T=0: TB2 TC2 TD2), TB2=00, TC2=0A, TD2=7F (T=15: TA3 TB3 TC3), TA3=38, TB3=81, TC3=00.
    const b = bytesOf("3B 80 E0 00 0A 7F 38 81 00 00");
    expect(b.TB2).toMatchObject({ owner: "global", meaning: expect.stringContaining("deprecated") });
    expect(b.TC2).toMatchObject({ owner: "T=0", meaning: "WI=10: T=0 work waiting time 960 × 10 × Fi/f" });
    expect(b.TA3?.meaning).toBe("XI: clock stop not supported; UI: no class indicated, RFU class bits 38");
    expect(b.TB3).toMatchObject({
      owner: "global",
      meaning: "SPU: proprietary use of contact C6 (b7-b1 01)",
    });
    expect(b.TC3).toMatchObject({ owner: "global", meaning: "not defined for T=15 by ISO 7816-3" });
    // After T=0 beyond group 2, nothing is defined (ATR_analysis reads a class indicator there).
    const t0 = bytesOf("3B 80 80 10 C7 00");
    expect(t0.TA3).toMatchObject({ owner: "T=0", meaning: "not defined for T=0 by ISO 7816-3" });
  });

  it("says the special guard time and a second T=1 group plainly", () => {
    const b = bytesOf("3B C0 FF 81 91 20 11 10 0E");
    expect(b.TC1?.meaning).toBe("N=255: minimum guard time (12 etu for T=0, 11 etu for T=1)");
    expect(b.TA3?.meaning).toMatch(/^IFSC 32 bytes/);
    expect(b.TA4?.meaning).toBe("further T=1 byte, not defined by ISO 7816-3");
  });
});
