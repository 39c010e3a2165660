/**
 * Weight units of the HID POS usage page (0x8D), in the order of their usages 0x51–0x5C. A scale
 * data report carries the unit as a 1-based index into this list (1 = milligram … 12 = pound).
 */
export const WEIGHT_UNITS = [
  "milligram",
  "gram",
  "kilogram",
  "carat",
  "tael",
  "grain",
  "pennyweight",
  "metric_ton",
  "avoir_ton",
  "troy_ounce",
  "ounce",
  "pound",
] as const;
export type WeightUnit = (typeof WEIGHT_UNITS)[number];

export const UNIT_SYMBOL: Readonly<Record<WeightUnit, string>> = {
  milligram: "mg",
  gram: "g",
  kilogram: "kg",
  carat: "ct",
  tael: "tael",
  grain: "gr",
  pennyweight: "dwt",
  metric_ton: "t",
  avoir_ton: "ton",
  troy_ounce: "ozt",
  ounce: "oz",
  pound: "lb",
};

/**
 * Exact mass of one unit in nanograms, from the legal definitions (1 lb = 0.45359237 kg,
 * 1 gr = 64.79891 mg, 1 ct = 200 mg). `undefined` where the unit has no single definition: the
 * tael differs between jurisdictions and an "avoirdupois ton" may be short or long, so a weight in
 * either is displayed but never converted for rating.
 */
export const NANOGRAMS_PER_UNIT: Readonly<Record<WeightUnit, bigint | undefined>> = {
  milligram: 1_000_000n,
  gram: 1_000_000_000n,
  kilogram: 1_000_000_000_000n,
  carat: 200_000_000n,
  tael: undefined,
  grain: 64_798_910n,
  pennyweight: 24n * 64_798_910n,
  metric_ton: 1_000_000_000_000_000n,
  avoir_ton: undefined,
  troy_ounce: 480n * 64_798_910n,
  ounce: 28_349_523_125n,
  pound: 453_592_370_000n,
};

/** The unit at a report's 1-based index, or undefined for an index the usage table does not define. */
export function unitFromCode(code: number): WeightUnit | undefined {
  return code >= 1 ? WEIGHT_UNITS[code - 1] : undefined;
}

export function unitCode(unit: WeightUnit): number {
  return WEIGHT_UNITS.indexOf(unit) + 1;
}
