import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadScaleProfiles } from "./profiles/load.js";

const ROOT = join(import.meta.dirname, "../..");
const RULES = join(ROOT, "systemd/udev/70-termhost.rules");

type Rule = Map<string, { op: string; value: string }>;

/** udev's grammar for one rule line: comma-separated KEY{attr}OP"value" pairs. Throws on anything else. */
function parseRule(line: string, lineNo: number): Rule {
  const rule: Rule = new Map();
  for (const part of line.split(/,\s*/)) {
    const m = /^([A-Z_]+(?:\{[A-Za-z0-9_]+\})?)(==|!=|\+=|:=|=)"([^"]*)"$/.exec(part.trim());
    if (m === null) throw new Error(`line ${lineNo}: cannot parse "${part}"`);
    const [, key = "", op = "", value = ""] = m;
    if (rule.has(key)) throw new Error(`line ${lineNo}: ${key} twice`);
    rule.set(key, { op, value });
  }
  return rule;
}

function rules(): Rule[] {
  return readFileSync(RULES, "utf8")
    .split("\n")
    .map((line, i) => [line.trim(), i + 1] as const)
    .filter(([line]) => line !== "" && !line.startsWith("#"))
    .map(([line, n]) => parseRule(line, n));
}

const matches = (r: Rule, key: string, value: string): boolean =>
  r.get(key)?.op === "==" && r.get(key)?.value === value;

describe("udev rules", () => {
  it("parse line by line, and every rule hands its device to the termhost group only", () => {
    const all = rules();
    expect(all.length).toBeGreaterThan(0);
    for (const r of all) {
      expect(r.get("GROUP")).toEqual({ op: "=", value: "termhost" });
      expect(r.get("MODE")).toEqual({ op: "=", value: "0660" });
      expect(["hidraw", "tty"]).toContain(r.get("SUBSYSTEM")?.value);
      expect(r.get("ATTRS{idVendor}")?.value).toMatch(/^[0-9a-f]{4}$/);
      expect(r.get("ATTRS{idProduct}")?.value).toMatch(/^[0-9a-f]{4}$/);
    }
  });

  it("cover the hidraw node of every hardware scale profile, and no simulated one", async () => {
    const profiles = await loadScaleProfiles(join(ROOT, "device-profiles/scales"));
    const hidraw = rules().filter((r) => matches(r, "SUBSYSTEM", "hidraw"));
    for (const p of profiles) {
      const covering = hidraw.filter(
        (r) => matches(r, "ATTRS{idVendor}", p.vendorId) && matches(r, "ATTRS{idProduct}", p.productId),
      );
      expect({ profile: p.name, rules: covering.length }).toEqual({
        profile: p.name,
        rules: p.virtual ? 0 : 1,
      });
    }
    expect(hidraw).toHaveLength(profiles.filter((p) => !p.virtual).length);
  });

  it("cover the usual USB-serial adapters of postage meters", () => {
    const tty = rules().filter((r) => matches(r, "SUBSYSTEM", "tty"));
    const ids = tty.map((r) => `${r.get("ATTRS{idVendor}")?.value}:${r.get("ATTRS{idProduct}")?.value}`);
    expect(ids).toEqual(expect.arrayContaining(["0403:6001", "067b:2303", "10c4:ea60"]));
  });

  it("reject a malformed line, so the checks above can fail", () => {
    expect(() => parseRule('SUBSYSTEM=="hidraw" GROUP="termhost"', 1)).toThrow(/line 1/);
    expect(() => parseRule("SUBSYSTEM==hidraw", 2)).toThrow(/line 2/);
  });
});
