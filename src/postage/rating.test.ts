import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rejectedCode, thrownCode } from "../../test/pcsc/support/errors.js";
import { isTermhostError } from "../errors/errors.js";
import type { Weight } from "../scale/weight.js";
import { loadRateTable, loadRateTables, type RateTable, ratePostage } from "./rating.js";

const RATES = join(import.meta.dirname, "../../device-profiles/rates");
const w = (value: number, exponent: number, unit: Weight["unit"]): Weight => ({ value, exponent, unit });
const GOOD = {
  name: "t",
  currency: "USD",
  weightUnit: "ounce",
  classes: { letter: [{ upTo: "1", amount: 78 }] },
};

async function tables(): Promise<Map<string, RateTable>> {
  return new Map((await loadRateTables(RATES)).map((t) => [t.name, t]));
}

function fileWith(content: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), "termhost-rates-")), "rates.json");
  writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}

async function problemsOf(content: unknown): Promise<string[]> {
  try {
    await loadRateTable(fileWith(content));
  } catch (e) {
    if (isTermhostError(e, "PROFILE_INVALID")) return e.context?.problems as string[];
    throw e;
  }
  throw new Error("rate table loaded without error");
}

describe("ratePostage with the sample tables", () => {
  it.each([
    [w(0, 0, "ounce"), "letter", 78],
    [w(10, -1, "ounce"), "letter", 78],
    [w(11, -1, "ounce"), "letter", 107],
    [w(35, -1, "ounce"), "letter", 165],
    [w(1135, -1, "ounce"), "parcel", 2480],
    [w(785, -2, "pound"), "parcel", 2480],
    [w(5, 0, "pound"), "parcel", 1420],
    [w(28349523125, -9, "gram"), "letter", 78],
    [w(2835, -2, "gram"), "letter", 107],
    [w(1599, -2, "ounce"), "parcel", 850],
    [w(16, 0, "ounce"), "parcel", 1420],
  ])("%o as %s costs %i cents", async (weight, mailClass, amount) => {
    const table = (await tables()).get("sample ounces USD") as RateTable;
    expect(ratePostage(table, weight, mailClass)).toMatchObject({ amount, currency: "USD", mailClass });
  });

  it("rates grams in euro cents, band limits inclusive", async () => {
    const table = (await tables()).get("sample grams EUR") as RateTable;
    expect(ratePostage(table, w(20, 0, "gram"), "letter").amount).toBe(95);
    expect(ratePostage(table, w(20001, -3, "gram"), "letter").amount).toBe(180);
    expect(ratePostage(table, w(1, 0, "kilogram"), "letter")).toMatchObject({
      amount: 370,
      currency: "EUR",
      upTo: { value: 1000, exponent: 0, unit: "gram" },
    });
  });

  it("gives RATE_WEIGHT_EXCEEDED above the last band and RATE_CLASS_UNKNOWN for a class it lacks", async () => {
    const table = (await tables()).get("sample ounces USD") as RateTable;
    expect(thrownCode(() => ratePostage(table, w(36, -1, "ounce"), "letter"))).toBe("RATE_WEIGHT_EXCEEDED");
    expect(thrownCode(() => ratePostage(table, w(70, 0, "pound"), "parcel"))).toBe("no error");
    expect(thrownCode(() => ratePostage(table, w(70001, -3, "pound"), "parcel"))).toBe(
      "RATE_WEIGHT_EXCEEDED",
    );
    expect(thrownCode(() => ratePostage(table, w(1, 0, "ounce"), "postcard"))).toBe("RATE_CLASS_UNKNOWN");
  });

  it("refuses a negative weight and a weight in a unit without a single definition", async () => {
    const table = (await tables()).get("sample ounces USD") as RateTable;
    expect(thrownCode(() => ratePostage(table, w(-1, 0, "ounce"), "letter"))).toBe("INVALID_PARAMS");
    expect(thrownCode(() => ratePostage(table, w(1, 0, "tael"), "letter"))).toBe("WEIGHT_UNIT_UNSUPPORTED");
  });
});

describe("rate table files", () => {
  it.each([
    ["a lower-case currency", { ...GOOD, currency: "usd" }, "currency"],
    ["an unknown currency", { ...GOOD, currency: "XYZ" }, "currency"],
    ["a unit without a single definition", { ...GOOD, weightUnit: "tael" }, "weightUnit"],
    [
      "a float amount",
      { ...GOOD, classes: { letter: [{ upTo: "1", amount: 0.78 }] } },
      "classes.letter.0.amount",
    ],
    [
      "a numeric weight",
      { ...GOOD, classes: { letter: [{ upTo: 1, amount: 78 }] } },
      "classes.letter.0.upTo",
    ],
    [
      "an exponent weight",
      { ...GOOD, classes: { letter: [{ upTo: "1e2", amount: 78 }] } },
      "classes.letter.0.upTo",
    ],
    [
      "bands out of order",
      {
        ...GOOD,
        classes: {
          letter: [
            { upTo: "2", amount: 1 },
            { upTo: "2.0", amount: 2 },
          ],
        },
      },
      "classes.letter.1.upTo",
    ],
    ["an empty class", { ...GOOD, classes: { letter: [] } }, "classes.letter"],
    ["no classes", { ...GOOD, classes: {} }, "classes"],
    ["an unknown key", { ...GOOD, tax: 1 }, "tax"],
  ])("rejects %s at field %s", async (_what, content, field) => {
    const problems = await problemsOf(content);
    expect(problems.some((p) => p.startsWith(`${field}:`))).toBe(true);
  });

  it("rejects a file that is not JSON, and a missing directory, with PROFILE_INVALID", async () => {
    expect(await rejectedCode(loadRateTable(fileWith("{")))).toBe("PROFILE_INVALID");
    expect(await rejectedCode(loadRateTables(join(tmpdir(), "termhost-no-rates-0")))).toBe("PROFILE_INVALID");
  });
});
