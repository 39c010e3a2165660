import { readFileSync } from "node:fs";
import { z } from "zod";
import { formatZodIssues } from "../src/errors/zod-format.js";

const Hex = z
  .string()
  .transform((s) => s.replace(/[\s:]/g, ""))
  .refine((s) => /^([0-9a-fA-F]{2})+$/.test(s), "expected an even-length hex string");

export const CardSpec = z
  .object({
    kind: z.literal("select"),
    atr: Hex,
    aid: Hex,
  })
  .strict();
export type CardSpec = z.infer<typeof CardSpec>;

export const SlotSpec = z
  .object({
    /** vpcd slot to connect to, e.g. 127.0.0.1:35963 */
    host: z.string().default("127.0.0.1"),
    port: z.number().int().min(1).max(65535),
    card: CardSpec.optional(),
    inserted: z.boolean().default(false),
  })
  .strict();

export const Scenario = z
  .object({
    slots: z.array(SlotSpec).min(1).max(16),
  })
  .strict();
export type Scenario = z.infer<typeof Scenario>;

/** The card every default slot holds: a T=1 card with one application. */
export const DEFAULT_CARD: CardSpec = {
  kind: "select",
  atr: "3B80800101",
  aid: "F07465726D686F7374",
};

export function loadScenario(path: string): Scenario {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new Error(`${path}: cannot read scenario: ${(e as Error).message}`);
  }
  const parsed = Scenario.safeParse(raw);
  if (!parsed.success)
    throw new Error(`${path}: invalid scenario:\n  ${formatZodIssues(parsed.error).join("\n  ")}`);
  return parsed.data;
}
