import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import { loadKioskScenario, parseKioskScenario } from "./load-scenario.js";

const GOOD = `
readers:
  - card: { kind: purse, cardId: "7465726D00000001", balance: 2500 }
  - card: { kind: sam }
    inserted: true
meters:
  - serial: PM0001
    registers: { descending: 10000 }
`;

function refusal(text: string, file = "kiosk.yaml"): string {
  try {
    parseKioskScenario(file, text);
  } catch (e) {
    expect(isTermhostError(e) && e.code).toBe("CONFIG_INVALID");
    return (e as Error).message;
  }
  throw new Error("the scenario was accepted");
}

describe("kiosk scenario files", () => {
  it("accepts a good one and fills in the defaults", () => {
    const s = parseKioskScenario("kiosk.yaml", GOOD);
    expect(s.readers[0]?.card).toMatchObject({ kind: "purse", balance: 2500, counter: 0, currency: 978 });
    expect(s.meters[0]).toMatchObject({ baud: 115_200, registers: { ascending: 0, descending: 10_000 } });
    expect(s.daemon.logLevel).toBe("info");
  });

  it("names the file, the path, the line and what is expected for an unknown key", () => {
    const msg = refusal(GOOD.replace("balance: 2500", "balance: 2500, colour: red"));
    expect(msg).toMatch(/^kiosk\.yaml: invalid scenario:/);
    expect(msg).toContain("readers.0.card.colour (line 3): unknown key");
  });

  it("refuses a negative balance", () => {
    const msg = refusal(GOOD.replace("balance: 2500", "balance: -5"));
    expect(msg).toMatch(/readers\.0\.card\.balance \(line 3\): .*>=0/);
  });

  it("refuses a duplicate card id, naming both readers", () => {
    const msg = refusal(
      `${GOOD}\n`.replace(
        "  - card: { kind: sam }",
        `  - card: { kind: purse, cardId: "7465726d00000001" }\n  - card: { kind: sam }`,
      ),
    );
    expect(msg).toContain("readers.1.card.cardId (line 4): duplicate card id 7465726D00000001");
    expect(msg).toContain("readers.0 holds it already");
  });

  it("refuses bad hex, saying how many bytes are expected", () => {
    expect(refusal(GOOD.replace("7465726D00000001", "7465726D0000000G"))).toContain(
      "readers.0.card.cardId (line 3): expected hex digits, 8 bytes",
    );
    expect(refusal(GOOD.replace("7465726D00000001", "7465726D"))).toContain(
      "expected 8 bytes of hex (16 digits)",
    );
  });

  it("reads JSON files and names the path there too; YAML syntax errors carry their line", () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-scenario-"));
    const file = join(dir, "kiosk.json");
    writeFileSync(file, JSON.stringify({ readers: [{ card: { kind: "sam" } }], meters: [{ serial: "" }] }));
    expect(() => loadKioskScenario(file)).toThrow(`${file}: invalid scenario:\n  meters.0.serial: 1 to 16`);
    expect(refusal("readers:\n  - card: {kind: sam\n")).toMatch(/line \d+:/);
    expect(() => loadKioskScenario(join(dir, "missing.yaml"))).toThrow(
      /missing\.yaml: invalid scenario:\n {2}cannot read/,
    );
  });
});
