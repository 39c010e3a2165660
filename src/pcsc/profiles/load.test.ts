import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hex, rejectedCode } from "../../../test/pcsc/support/errors.js";
import { isTermhostError } from "../../errors/errors.js";
import { parseAtr } from "../atr/parse.js";
import { identifyCard, identifyReader } from "./identify.js";
import { loadProfiles } from "./load.js";

const REPO_PROFILES = join(import.meta.dirname, "../../../device-profiles");

const GOOD_CARD = { name: "purse", atr: "3B 02 14 50", mask: "FF FF FF FF" };
const GOOD_READER = { name: "vpcd", namePattern: "^Virtual PCD", capabilities: {} };

function profileDir(files: Record<string, unknown>): string {
  const dir = join(mkdtempSync(join(tmpdir(), "termhost-profiles-")), "device-profiles");
  mkdirSync(join(dir, "cards"), { recursive: true });
  mkdirSync(join(dir, "readers"), { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return dir;
}

async function problemOf(dir: string): Promise<{ file: unknown; problems: unknown }> {
  try {
    await loadProfiles(dir);
  } catch (e) {
    if (isTermhostError(e, "PROFILE_INVALID"))
      return { file: e.context?.file, problems: e.context?.problems };
    throw e;
  }
  throw new Error("profiles loaded without error");
}

describe("device profiles shipped with the product", () => {
  it("load, and each card ATR parses with a valid TCK and matches its own profile", async () => {
    const { cards, readers } = await loadProfiles(REPO_PROFILES);
    expect(cards.map((c) => c.name).sort()).toEqual([
      "MIFARE DESFire EV1/EV2 (termhost value application)",
      "termhost SAM",
      "termhost purse",
    ]);
    for (const card of cards) {
      const atr = parseAtr(card.pattern.atr);
      expect(atr.tckValid).toBe(true);
      expect(atr.transmissionProtocols).toContain(1);
      expect(atr.warnings).toEqual([]);
      expect(identifyCard(card.pattern.atr, cards)?.name).toBe(card.name);
    }
    expect(identifyReader("Virtual PCD 00 01", readers)?.capabilities.virtual).toBe(true);
    expect(identifyReader("ACS ACR38U 00 00", readers)).toBeUndefined();
  });
});

describe("loadProfiles", () => {
  it("applies capability defaults and compiles patterns", async () => {
    const { cards, readers } = await loadProfiles(
      profileDir({ "cards/a.json": GOOD_CARD, "readers/v.json": GOOD_READER }),
    );
    expect(cards[0]?.pattern.atr).toEqual(hex("3B021450"));
    expect(readers[0]?.capabilities).toEqual({
      extendedLength: false,
      contactless: false,
      pinPad: false,
      virtual: false,
    });
    expect(identifyCard(hex("3B021450"), cards)?.file).toMatch(/device-profiles\/cards\/a\.json$/);
  });

  it("names the file and the field when a mask does not fit its ATR", async () => {
    const dir = profileDir({ "cards/purse.json": { ...GOOD_CARD, mask: "FF FF" } });
    const { file, problems } = await problemOf(dir);
    expect(file).toBe(join(dir, "cards/purse.json"));
    expect(problems).toEqual(["mask: expected hex string of same length as atr"]);
  });

  it.each([
    ["a non-hex ATR", { ...GOOD_CARD, atr: "3B 0G" }, "atr"],
    ["an odd-length mask", { ...GOOD_CARD, mask: "FFF" }, "mask"],
    ["a short AID", { ...GOOD_CARD, application: { aid: "A000" } }, "application.aid"],
    ["a missing name", { atr: "3B00", mask: "FFFF" }, "name"],
    ["an unknown key", { ...GOOD_CARD, colour: "red" }, "colour"],
  ])("rejects a card profile with %s at field %s", async (_what, content, field) => {
    const { problems } = await problemOf(profileDir({ "cards/c.json": content }));
    expect(Array.isArray(problems) && problems.some((p) => String(p).startsWith(`${field}:`))).toBe(true);
  });

  it.each([
    ["a broken regular expression", { ...GOOD_READER, namePattern: "([" }, "namePattern"],
    [
      "a capability of the wrong type",
      { ...GOOD_READER, capabilities: { pinPad: "yes" } },
      "capabilities.pinPad",
    ],
    ["no capabilities", { name: "r", namePattern: "x" }, "capabilities"],
  ])("rejects a reader profile with %s at field %s", async (_what, content, field) => {
    const { problems } = await problemOf(profileDir({ "readers/r.json": content }));
    expect(Array.isArray(problems) && problems.some((p) => String(p).startsWith(`${field}:`))).toBe(true);
  });

  it("rejects a file that is not JSON, and duplicate names", async () => {
    expect((await problemOf(profileDir({ "cards/x.json": "{ not json" }))).file).toMatch(/cards\/x\.json$/);
    const dup = await problemOf(profileDir({ "cards/a.json": GOOD_CARD, "cards/b.json": GOOD_CARD }));
    expect(dup.file).toMatch(/cards\/b\.json$/);
  });

  it("fails with PROFILE_INVALID when the profile directory is missing", async () => {
    expect(await rejectedCode(loadProfiles(join(tmpdir(), "termhost-no-such-dir-0")))).toBe(
      "PROFILE_INVALID",
    );
  });
});
