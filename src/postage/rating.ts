import { join } from "node:path";
import { z } from "zod";
import { TermhostError } from "../errors/errors.js";
import { jsonFilesIn, readValidatedJson, requireUniqueNames } from "../profiles/json-file.js";
import { NANOGRAMS_PER_UNIT, WEIGHT_UNITS, type WeightUnit } from "../scale/units.js";
import { compareWeights, parseDecimalWeight, type Weight } from "../scale/weight.js";

/** Largest postage for one piece, in minor units: a bound against a typo adding digits. */
const MAX_AMOUNT = 10_000_000;
const CURRENCIES = new Set(Intl.supportedValuesOf("currency"));

const convertibleUnit = z
  .enum(WEIGHT_UNITS)
  .refine((u) => NANOGRAMS_PER_UNIT[u] !== undefined, "expected a unit with a single legal definition");

const BandSchema = z.strictObject({
  /** Heaviest weight of the band, inclusive, as a decimal string in the table's unit ("3.5"). */
  upTo: z.string().refine((s) => parseDecimalWeight(s, "gram") !== undefined, {
    message: 'expected a non-negative decimal string such as "3.5"',
  }),
  /** Postage in minor units of the table's currency (cents). */
  amount: z.number().int().min(0).max(MAX_AMOUNT),
});

/**
 * A rate table file (`device-profiles/rates/*.json`): per mail class, weight bands in ascending
 * order. A piece pays the amount of the first band whose `upTo` it does not exceed.
 */
export const RateTableSchema = z
  .strictObject({
    name: z.string().min(1).max(80),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "expected an ISO 4217 code such as USD")
      .refine((c) => CURRENCIES.has(c), "expected a known ISO 4217 currency"),
    weightUnit: convertibleUnit,
    classes: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "expected a lower-case class name"),
        z.array(BandSchema).min(1).max(200),
      )
      .refine((c) => Object.keys(c).length > 0, "expected at least one mail class"),
    notes: z.string().max(2000).optional(),
  })
  .superRefine((table, ctx) => {
    for (const [mailClass, bands] of Object.entries(table.classes)) {
      for (let i = 1; i < bands.length; i++) {
        const prev = parseDecimalWeight(bands[i - 1]?.upTo ?? "", table.weightUnit);
        const here = parseDecimalWeight(bands[i]?.upTo ?? "", table.weightUnit);
        if (prev !== undefined && here !== undefined && compareWeights(prev, here) >= 0) {
          ctx.addIssue({
            code: "custom",
            path: ["classes", mailClass, i, "upTo"],
            message: "expected bands in strictly ascending weight",
          });
        }
      }
    }
  });
export type RateTableFile = z.infer<typeof RateTableSchema>;

export interface RateBand {
  upTo: Weight;
  amount: number;
}

export interface RateTable {
  name: string;
  currency: string;
  weightUnit: WeightUnit;
  classes: ReadonlyMap<string, readonly RateBand[]>;
  file: string;
}

export interface Postage {
  /** Minor units of `currency`. */
  amount: number;
  currency: string;
  mailClass: string;
  table: string;
  /** The band that applied: its upper weight, inclusive, in the table's unit. */
  upTo: Weight;
}

function compile(file: string, t: RateTableFile): RateTable {
  const classes = new Map<string, RateBand[]>();
  for (const [mailClass, bands] of Object.entries(t.classes)) {
    classes.set(
      mailClass,
      bands.map((b) => ({ upTo: parseDecimalWeight(b.upTo, t.weightUnit) as Weight, amount: b.amount })),
    );
  }
  return { name: t.name, currency: t.currency, weightUnit: t.weightUnit, classes, file };
}

/** One rate table file, validated; PROFILE_INVALID names the file and the field. */
export async function loadRateTable(file: string): Promise<RateTable> {
  return compile(file, await readValidatedJson(file, RateTableSchema));
}

/** Every `*.json` in `dir` (normally `device-profiles/rates`), names unique. */
export async function loadRateTables(dir: string): Promise<RateTable[]> {
  const tables: RateTable[] = [];
  for (const name of await jsonFilesIn(dir)) tables.push(await loadRateTable(join(dir, name)));
  requireUniqueNames(tables);
  return tables;
}

/**
 * Postage for a piece of `weight` in `mailClass`, exact: the weight is compared with the bands as
 * rational masses, so 28.35 g is over a 1 oz band and 28.349523125 g is not.
 */
export function ratePostage(table: RateTable, weight: Weight, mailClass: string): Postage {
  const bands = table.classes.get(mailClass);
  if (bands === undefined) {
    throw new TermhostError(
      "RATE_CLASS_UNKNOWN",
      `no mail class "${mailClass}" in rate table ${table.name}`,
      {
        context: { mailClass, table: table.name, classes: [...table.classes.keys()] },
      },
    );
  }
  if (weight.value < 0) {
    throw new TermhostError("INVALID_PARAMS", "a weight to rate cannot be negative", {
      context: { weight },
    });
  }
  const band = bands.find((b) => compareWeights(weight, b.upTo) <= 0);
  if (band === undefined) {
    const last = bands[bands.length - 1];
    throw new TermhostError("RATE_WEIGHT_EXCEEDED", `the piece is heavier than the last ${mailClass} band`, {
      hint: "choose a mail class that takes heavier pieces",
      context: { mailClass, table: table.name, maxWeight: last?.upTo },
    });
  }
  return { amount: band.amount, currency: table.currency, mailClass, table: table.name, upTo: band.upTo };
}
