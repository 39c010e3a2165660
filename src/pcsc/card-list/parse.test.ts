import { describe, expect, it } from "vitest";
import { hex } from "../../../test/pcsc/support/errors.js";
import { parseCardList } from "./parse.js";

const LIST = [
  "# smartcard_list.txt excerpt",
  "",
  "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A",
  "\tMIFARE Classic 1K (as per PCSC std part3)",
  "\tOyster card",
  "",
  "3B 8F 80 01 80 4F 0C A0 00 00 03 06 .. 00 01 00 00 00 00 ..",
  "\tsome contactless card with a storage card application",
  "",
  "3b 02 14 50",
  "\tlower-case pattern",
  "",
  "3F 65 25 00 2[2C] 09 [F6]9 90 00",
  "\tclass pattern",
  "",
  "3B EF 00 FF 81 31 42 45 .* 38",
  "\tany length",
  "",
  "3B 00 <script>",
  "\tnot a pattern",
  "",
  "3B 8[ 00",
  "\tunclosed class",
  "",
  "3B 11 22",
  "",
  "\torphan description after a blank line",
  "\tand its second line",
].join("\n");

describe("parseCardList (pcsc-tools' smartcard_list.txt)", () => {
  const list = parseCardList(LIST);

  it("keeps the valid entries and counts each malformed one with its line", () => {
    expect(list.entries).toBe(5);
    expect(list.skipped).toEqual([
      { line: 19, reason: expect.stringContaining("characters other than hex") },
      { line: 22, reason: "not a valid regular expression" },
      { line: 25, reason: "pattern without description" },
      { line: 27, reason: "description without pattern" },
    ]);
  });

  it("answers every matching entry in file order, exact ATRs and patterns alike", () => {
    const mifare = list.lookup(hex("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A"));
    expect(mifare.map((e) => e.line)).toEqual([3, 7]);
    expect(mifare[0]?.descriptions).toEqual(["MIFARE Classic 1K (as per PCSC std part3)", "Oyster card"]);
    expect(
      list.lookup(hex("3B 8F 80 01 80 4F 0C A0 00 00 03 06 01 00 01 00 00 00 00 6B")).map((e) => e.line),
    ).toEqual([7]);
  });

  it("matches patterns as ATR_analysis does: whole ATR, case-insensitive, over upper-case spaced hex", () => {
    expect(list.lookup(hex("3B 02 14 50"))[0]?.descriptions).toEqual(["lower-case pattern"]);
    expect(list.lookup(hex("3F 65 25 00 2C 09 69 90 00"))).toHaveLength(1);
    expect(list.lookup(hex("3F 65 25 00 2D 09 69 90 00"))).toHaveLength(0);
    expect(list.lookup(hex("3B EF 00 FF 81 31 42 45 01 02 03 38"))).toHaveLength(1);
    // Anchored: a prefix of a listed ATR is not that card.
    expect(list.lookup(hex("3B 02 14"))).toHaveLength(0);
    expect(list.lookup(hex("3B 02 14 50 00"))).toHaveLength(0);
  });

  it("never throws on arbitrary text", () => {
    for (const text of [
      "",
      "\t\t\t",
      "((((",
      "3B\r\n\tx\r\n",
      "\u0000\n\t\u0000",
      "[\n\t[",
      "3B (\n\tunbalanced",
    ]) {
      expect(() => parseCardList(text).lookup(hex("3B 00"))).not.toThrow();
    }
    expect(parseCardList("3B 00\r\n\tCRLF line ends\r\n").lookup(hex("3B 00"))[0]?.descriptions).toEqual([
      "CRLF line ends",
    ]);
  });
});
