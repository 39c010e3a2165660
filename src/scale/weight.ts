import { TermhostError } from "../errors/errors.js";
import { NANOGRAMS_PER_UNIT, UNIT_SYMBOL, type WeightUnit } from "./units.js";

/**
 * A weight exactly as the scale reported it: `value × 10^exponent` of `unit`. `value` is an integer
 * and `exponent` the report's signed scaling byte, so 113.5 oz is {value: 1135, exponent: -1}. No
 * floating-point number is ever computed from it: comparisons go through `exactMass`.
 */
export interface Weight {
  value: number;
  exponent: number;
  unit: WeightUnit;
}

/** A mass of `nanograms / 10^scale` ng, exact, for comparing weights given in different units. */
export interface ExactMass {
  nanograms: bigint;
  scale: number;
}

/** `value × 10^exponent` written out in decimal without rounding: {1135, -1} → "113.5". */
export function decimalText(value: number, exponent: number): string {
  const negative = value < 0;
  const digits = String(Math.abs(value));
  let text: string;
  if (exponent >= 0) {
    text = value === 0 ? "0" : digits + "0".repeat(exponent);
  } else {
    const places = -exponent;
    const padded = digits.padStart(places + 1, "0");
    const whole = padded.slice(0, padded.length - places);
    const fraction = padded.slice(padded.length - places).replace(/0+$/, "");
    text = fraction === "" ? whole : `${whole}.${fraction}`;
  }
  return negative && text !== "0" ? `-${text}` : text;
}

/** "113.5 oz", for displays and logs. */
export function formatWeight(weight: Weight): string {
  return `${decimalText(weight.value, weight.exponent)} ${UNIT_SYMBOL[weight.unit]}`;
}

/**
 * Parses a non-negative decimal such as "3.5" into a weight, exactly. Returns undefined for
 * anything else, so each caller raises the error that fits its boundary.
 */
export function parseDecimalWeight(text: string, unit: WeightUnit): Weight | undefined {
  const match = /^(\d{1,12})(?:\.(\d{1,9}))?$/.exec(text);
  if (match === null) return undefined;
  const fraction = match[2] ?? "";
  return {
    value: Number((match[1] ?? "") + fraction),
    exponent: fraction === "" ? 0 : -fraction.length,
    unit,
  };
}

/** The weight as an exact mass; WEIGHT_UNIT_UNSUPPORTED for units without a single definition. */
export function exactMass(weight: Weight): ExactMass {
  const perUnit = NANOGRAMS_PER_UNIT[weight.unit];
  if (perUnit === undefined) {
    throw new TermhostError(
      "WEIGHT_UNIT_UNSUPPORTED",
      `a weight in ${weight.unit} cannot be converted to a mass`,
      {
        hint: "set the scale to grams, kilograms, ounces or pounds",
        context: { unit: weight.unit },
      },
    );
  }
  const value = BigInt(weight.value) * perUnit;
  return weight.exponent >= 0
    ? { nanograms: value * 10n ** BigInt(weight.exponent), scale: 0 }
    : { nanograms: value, scale: -weight.exponent };
}

/** Negative, zero or positive as `a` is lighter than, equal to or heavier than `b`; exact. */
export function compareWeights(a: Weight, b: Weight): number {
  const ma = exactMass(a);
  const mb = exactMass(b);
  const scale = Math.max(ma.scale, mb.scale);
  const na = ma.nanograms * 10n ** BigInt(scale - ma.scale);
  const nb = mb.nanograms * 10n ** BigInt(scale - mb.scale);
  return na < nb ? -1 : na > nb ? 1 : 0;
}

/**
 * Whole milligrams, rounded up: postage is charged on the started unit, so rounding never favours
 * an underpaid piece. Exact for every weight a postal scale reports.
 */
export function milligramsRoundedUp(weight: Weight): bigint {
  const mass = exactMass(weight);
  const divisor = 1_000_000n * 10n ** BigInt(mass.scale);
  const quotient = mass.nanograms / divisor;
  return mass.nanograms % divisor > 0n ? quotient + 1n : quotient;
}
