import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rejectedCode } from "../../../test/pcsc/support/errors.js";
import { isTermhostError } from "../../errors/errors.js";
import { DEFAULT_LAYOUT } from "../report.js";
import { loadScaleProfiles, profileFor } from "./load.js";

const REPO_SCALES = join(import.meta.dirname, "../../../device-profiles/scales");
const GOOD = { name: "scale", vendorId: "0922", productId: "8003" };

function dirWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "termhost-scales-"));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === "string" ? content : JSON.stringify(content));
  }
  return dir;
}

async function problemOf(dir: string): Promise<{ file: unknown; problems: string[] }> {
  try {
    await loadScaleProfiles(dir);
  } catch (e) {
    if (isTermhostError(e, "PROFILE_INVALID")) {
      return { file: e.context?.file, problems: (e.context?.problems as string[]) ?? [] };
    }
    throw e;
  }
  throw new Error("profiles loaded without error");
}

describe("scale profiles shipped with the product", () => {
  it("load, each with a distinct vendor/product", async () => {
    const profiles = await loadScaleProfiles(REPO_SCALES);
    expect(profiles.map((p) => p.name).sort()).toEqual([
      "DYMO M10 postal scale",
      "Mettler Toledo PS60 shipping scale",
      "termhost simulated scale",
    ]);
    expect(profileFor({ vendorId: "0922", productId: "8003" }, profiles)?.report).toEqual(DEFAULT_LAYOUT);
    expect(profileFor({ vendorId: "1209", productId: "0001" }, profiles)?.control?.zeroMask).toBe(2);
    expect(profileFor({ vendorId: "0922", productId: "0000" }, profiles)).toBeUndefined();
  });
});

describe("loadScaleProfiles", () => {
  it("fills the standard layout and defaults", async () => {
    const [p] = await loadScaleProfiles(dirWith({ "a.json": GOOD }));
    expect(p?.report).toEqual(DEFAULT_LAYOUT);
    expect(p?.stableReports).toBe(2);
    expect(p?.virtual).toBe(false);
    expect(p?.control).toBeUndefined();
  });

  it.each([
    ["an upper-case vendor id", { ...GOOD, vendorId: "0EB8" }, "vendorId"],
    ["a numeric product id", { ...GOOD, productId: 32771 }, "productId"],
    ["a field past 64 bytes", { ...GOOD, report: { weightOffset: 64 } }, "report.weightOffset"],
    ["a 5-byte weight", { ...GOOD, report: { weightBytes: 5 } }, "report.weightBytes"],
    ["overlapping fields", { ...GOOD, report: { unitOffset: 1 } }, "report.unitOffset"],
    ["a weight over the unit byte", { ...GOOD, report: { weightOffset: 2 } }, "report.weightOffset"],
    ["a status at the report id", { ...GOOD, report: { statusOffset: 0 } }, "report.statusOffset"],
    ["a zero mask of 0", { ...GOOD, control: { reportId: 2, zeroMask: 0 } }, "control.zeroMask"],
    [
      "a tare bit shared with zero",
      { ...GOOD, control: { reportId: 2, zeroMask: 3, tareMask: 1 } },
      "control.tareMask",
    ],
    ["a single stable report", { ...GOOD, stableReports: 1 }, "stableReports"],
    ["an unknown key", { ...GOOD, colour: "red" }, "colour"],
    ["no name", { vendorId: "0922", productId: "8003" }, "name"],
  ])("rejects a profile with %s, naming field %s", async (_what, content, field) => {
    const dir = dirWith({ "bad.json": content });
    const { file, problems } = await problemOf(dir);
    expect(file).toBe(join(dir, "bad.json"));
    expect(problems.some((p) => p.startsWith(`${field}:`))).toBe(true);
  });

  it("accepts a layout without report ids that uses byte 0", async () => {
    const [p] = await loadScaleProfiles(
      dirWith({ "a.json": { ...GOOD, report: { reportId: null, statusOffset: 0, unitOffset: 1 } } }),
    );
    expect(p?.report.statusOffset).toBe(0);
  });

  it("rejects a duplicate name, a duplicate vendor/product, and a file that is not JSON", async () => {
    const names = await problemOf(dirWith({ "a.json": GOOD, "b.json": { ...GOOD, productId: "8004" } }));
    expect(names.file).toMatch(/b\.json$/);
    const ids = await problemOf(dirWith({ "a.json": GOOD, "b.json": { ...GOOD, name: "other" } }));
    expect(ids.problems[0]).toMatch(/^productId:/);
    expect((await problemOf(dirWith({ "x.json": "{ nope" }))).file).toMatch(/x\.json$/);
  });

  it("fails with PROFILE_INVALID when the directory is missing", async () => {
    expect(await rejectedCode(loadScaleProfiles(join(tmpdir(), "termhost-no-scales-0")))).toBe(
      "PROFILE_INVALID",
    );
  });
});
