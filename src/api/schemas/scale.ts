import { z } from "zod";
import { SCALE_STATUSES } from "../../scale/report.js";
import { WEIGHT_UNITS } from "../../scale/units.js";

const WeightFields = {
  /** The weight is `value × 10^exponent` of `unit`, exactly as the scale reported it. */
  value: z
    .number()
    .int()
    .min(-(2 ** 31))
    .max(2 ** 32),
  exponent: z.number().int().min(-128).max(127),
  unit: z.enum(WEIGHT_UNITS),
};
export const ApiWeight = z.object(WeightFields).strict();

const Device = z.object({
  vendorId: z.string(),
  productId: z.string(),
  path: z.string(),
  product: z.string().optional(),
  serialNumber: z.string().optional(),
  /** The device profile that matched it. */
  profile: z.string(),
});

export const SaleWeightResult = z.object({
  status: z.enum(["stable", "stable_at_zero"]),
  ...WeightFields,
  /** "113.5 oz", for display. */
  text: z.string(),
  /** The same weight in grams, rounded up to the milligram ("3217.644"); absent for taels and tons. */
  grams: z.string().optional(),
});

export const ApiLiveWeight = z.object({
  status: z.enum(SCALE_STATUSES),
  ...WeightFields,
  text: z.string(),
  /** Stable and repeated enough on this connection to be sold on; a moving weight never is. */
  trusted: z.boolean(),
});

/** `data` of events on the `scale` topic. */
export const ScaleEventData = z.discriminatedUnion("kind", [
  ApiLiveWeight.extend({ kind: z.literal("weight") }),
  z.object({ kind: z.literal("connected"), device: Device }),
  z.object({ kind: z.literal("disconnected"), device: Device }),
]);

const Band = z.object({ upTo: z.string(), amount: z.number().int() });

export const ScaleMethods = {
  "scale.read": {
    description:
      "a stable, trusted weight within timeoutMs, or SCALE_UNSTABLE / SCALE_OVERWEIGHT / SCALE_UNDER_ZERO / SCALE_FAULT / SCALE_OFFLINE / TIMEOUT",
    params: z.object({ timeoutMs: z.number().int().min(0).max(120_000).default(3_000) }).strict(),
    result: SaleWeightResult,
  },
  "scale.watch": {
    description:
      'subscribes this connection to the `scale` event topic (live weights, connected, disconnected) and returns the reading now; same as events.subscribe {topics:["scale"]}',
    params: z.object({}).strict(),
    result: z.object({
      online: z.boolean(),
      live: ApiLiveWeight.nullable(),
      topics: z.array(z.string()),
    }),
  },
  "scale.status": {
    description:
      "whether a scale is configured and connected, its device and live reading, and bad input counters",
    params: z.object({}).strict(),
    result: z.object({
      configured: z.boolean(),
      transport: z.enum(["hid", "socket", "none"]),
      online: z.boolean(),
      device: Device.nullable(),
      live: ApiLiveWeight.nullable(),
      /** Reports that did not parse; each was dropped and the scale kept serving. */
      invalidReports: z.number().int(),
      /** Socket transport only: frames that broke the protocol; each dropped its connection. */
      invalidFrames: z.number().int(),
      lastFrameError: z
        .object({ code: z.string(), message: z.string(), path: z.string(), at: z.string() })
        .nullable(),
    }),
  },
  "scale.zero": {
    description: "HID POS Zero Scale: the present load reads as zero; trust starts over",
    params: z.object({}).strict(),
    result: z.object({ ok: z.literal(true) }),
  },
  "scale.tare": {
    description:
      "vendor tare, where the scale's profile declares one (else SCALE_UNSUPPORTED); trust starts over",
    params: z.object({}).strict(),
    result: z.object({ ok: z.literal(true) }),
  },
  "postage.rate": {
    description:
      "postage for a piece of `weight` in `mailClass` from a rate table; a scale.read result can be passed as `weight` as it is",
    params: z
      .object({
        // Not strict: the extra fields of a scale.read result (status, text, grams) are ignored.
        weight: z.object(WeightFields),
        mailClass: z.string().min(1).max(40),
        /** Rate table name; the configured default, or the only table, when absent. */
        table: z.string().min(1).max(80).optional(),
      })
      .strict(),
    result: z.object({
      /** Minor units of `currency`. */
      amount: z.number().int(),
      currency: z.string(),
      mailClass: z.string(),
      table: z.string(),
      /** The band that applied: up to this weight, inclusive, in the table's unit. */
      upTo: ApiWeight,
      upToText: z.string(),
    }),
  },
  "postage.rate.tables": {
    description: "the loaded rate tables: currency, weight unit, mail classes and their bands",
    params: z.object({}).strict(),
    result: z.object({
      defaultTable: z.string().nullable(),
      tables: z.array(
        z.object({
          name: z.string(),
          currency: z.string(),
          weightUnit: z.enum(WEIGHT_UNITS),
          classes: z.array(z.object({ name: z.string(), bands: z.array(Band) })),
        }),
      ),
    }),
  },
} as const;
