import { describe, expect, it } from "vitest";
import { thrownCode } from "../../test/pcsc/support/errors.js";
import {
  compareWeights,
  decimalText,
  milligramsRoundedUp,
  parseDecimalWeight,
  type Weight,
} from "./weight.js";

const w = (value: number, exponent: number, unit: Weight["unit"]): Weight => ({ value, exponent, unit });

describe("decimalText", () => {
  it.each([
    [0, 0, "0"],
    [0, -3, "0"],
    [0, 2, "0"],
    [5, -3, "0.005"],
    [1500, -3, "1.5"],
    [-785, -2, "-7.85"],
    [-5, -1, "-0.5"],
    [12, 2, "1200"],
  ])("%i × 10^%i is %s", (value, exponent, text) => {
    expect(decimalText(value, exponent)).toBe(text);
  });
});

describe("exact weight comparison across units", () => {
  it.each([
    [w(16, 0, "ounce"), w(1, 0, "pound"), 0],
    [w(45359237, -5, "gram"), w(1, 0, "pound"), 0],
    [w(28349523125, -9, "gram"), w(1, 0, "ounce"), 0],
    [w(2835, -2, "gram"), w(1, 0, "ounce"), 1],
    [w(2834, -2, "gram"), w(1, 0, "ounce"), -1],
    [w(1135, -1, "ounce"), w(7093, -3, "pound"), 1],
    [w(1135, -1, "ounce"), w(709375, -5, "pound"), 0],
    [w(1000, 0, "milligram"), w(1, 0, "gram"), 0],
    [w(5, 0, "carat"), w(1, 0, "gram"), 0],
    [w(480, 0, "grain"), w(1, 0, "troy_ounce"), 0],
    [w(20, 0, "pennyweight"), w(1, 0, "troy_ounce"), 0],
    [w(1, 3, "kilogram"), w(1, 0, "metric_ton"), 0],
    [w(1, -128, "gram"), w(0, 0, "gram"), 1],
  ])("compare(%o, %o) = %i", (a, b, sign) => {
    expect(Math.sign(compareWeights(a, b))).toBe(sign);
    expect(Math.sign(compareWeights(b, a))).toBe(-sign || 0);
  });

  it("refuses units that have no single definition", () => {
    expect(thrownCode(() => compareWeights(w(1, 0, "tael"), w(1, 0, "gram")))).toBe(
      "WEIGHT_UNIT_UNSUPPORTED",
    );
    expect(thrownCode(() => compareWeights(w(1, 0, "gram"), w(1, 0, "avoir_ton")))).toBe(
      "WEIGHT_UNIT_UNSUPPORTED",
    );
  });
});

describe("milligramsRoundedUp", () => {
  it.each([
    [w(1, 0, "ounce"), 28350n],
    [w(1, 0, "pound"), 453593n],
    [w(250, 0, "gram"), 250000n],
    [w(1, -4, "gram"), 1n],
    [w(0, 0, "gram"), 0n],
  ])("%o → %s mg", (weight, mg) => {
    expect(milligramsRoundedUp(weight)).toBe(mg);
  });
});

describe("parseDecimalWeight", () => {
  it("parses exactly, and refuses what is not a plain non-negative decimal", () => {
    expect(parseDecimalWeight("3.5", "ounce")).toEqual(w(35, -1, "ounce"));
    expect(parseDecimalWeight("20", "gram")).toEqual(w(20, 0, "gram"));
    for (const bad of ["", "-1", "1e3", "1.", ".5", "0x10", " 1", "1.0000000001"]) {
      expect(parseDecimalWeight(bad, "gram")).toBeUndefined();
    }
  });
});
