import { readFileSync } from "node:fs";
import { z } from "zod";
import { DEFAULT_UPPER_LIMIT } from "../src/desfire/protocol/layout.js";
import { formatZodIssues } from "../src/errors/zod-format.js";
import { MAX_COUNTER, MAX_MONEY } from "../src/purse/messages/fields.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../src/purse/messages/well-known-keys.js";
import { DESFIRE_COMMANDS } from "./cards/desfire/faults.js";

const Hex = z
  .string()
  .transform((s) => s.replace(/[\s:]/g, ""))
  .refine((s) => /^([0-9a-fA-F]{2})+$/.test(s), "expected an even-length hex string");

const HexBytes = (n: number) => Hex.refine((s) => s.length === 2 * n, `expected ${n} bytes of hex`);
const Money = z.number().int().min(0).max(MAX_MONEY);

/** The simulators' issuer master key unless a scenario names another; the daemon refuses it in production. */
export { SIMULATOR_MASTER_KEY_HEX };

/** A fault armed on a purse card: tear a value command at a point, or vanish at the n-th APDU. */
export const PurseFaultSpec = z.union([
  z
    .object({
      command: z.enum(["CREDIT", "DEBIT"]),
      when: z.enum(["before-commit", "mid-write", "after-commit-before-response"]),
    })
    .strict(),
  z.object({ apdu: z.number().int().min(1) }).strict(),
  z
    .object({
      forge: z.enum(["CREDIT", "DEBIT", "AUTHENTICATE", "INITIALIZE LOAD"]),
      answer: z.enum(["bare-success", "bad-mac", "replayed-proof"]),
    })
    .strict(),
  z.object({ refuse: z.literal("READ LAST TRANSACTION") }).strict(),
]);

/** A fault armed on a DESFire card (simulators/cards/desfire/faults.ts). */
export const DesfireFaultSpec = z.union([
  z.object({ tear: z.enum(["before-commit", "mid-write", "after-commit"]) }).strict(),
  z.object({ lostAnswer: z.enum(DESFIRE_COMMANDS) }).strict(),
  z.object({ apdu: z.number().int().min(1) }).strict(),
  z
    .object({
      forge: z.enum(DESFIRE_COMMANDS),
      answer: z.enum(["missing-mac", "wrong-mac", "replayed-answer", "wrong-ti"]),
    })
    .strict(),
]);

export const SelectCardSpec = z
  .object({
    kind: z.literal("select"),
    atr: Hex,
    aid: Hex,
    /** "get-response": answer like a T=0 card, with 61xx and 6Cxx. */
    style: z.enum(["direct", "get-response"]).default("direct"),
  })
  .strict();

export const PurseCardSpec = z
  .object({
    kind: z.literal("purse"),
    cardId: HexBytes(8),
    /** Issuer master key (hex); the simulators' well-known key when left out. */
    masterKey: HexBytes(16).optional(),
    /** ISO 4217 numeric, e.g. 978 for EUR. */
    currency: z.number().int().min(1).max(999),
    /** Balance and counter as issued (0 when left out); they apply only until the state file exists. */
    balance: Money.optional(),
    counter: z.number().int().min(0).max(MAX_COUNTER).optional(),
    maxBalance: Money,
    /** The card's non-volatile memory. */
    statePath: z.string().min(1),
    faults: z.array(PurseFaultSpec).optional(),
  })
  .strict()
  .refine((c) => (c.balance ?? 0) <= c.maxBalance, {
    message: "balance exceeds maxBalance",
    path: ["balance"],
  });

export const SamCardSpec = z
  .object({
    kind: z.literal("sam"),
    /** Issuer master key (hex); the simulators' well-known key when left out. */
    masterKey: HexBytes(16).optional(),
    ledgerPath: z.string().min(1),
  })
  .strict();

export const DesfireCardSpec = z
  .object({
    kind: z.literal("desfire"),
    /** 7-byte UID. */
    uid: HexBytes(7),
    /** Master keys of key numbers 0, 1, 2 (hex); the simulators' well-known ones when left out. */
    masterKeys: z.tuple([HexBytes(16), HexBytes(16), HexBytes(16)]).optional(),
    /** Balance, upper limit and LimitedCredit flag as issued; they apply only until the state file exists. */
    balance: z.number().int().min(0).max(0x7fffffff).optional(),
    upperLimit: z.number().int().min(0).max(0x7fffffff).optional(),
    limitedCreditEnabled: z.boolean().optional(),
    /** An EV1 card: only AuthenticateAES. */
    ev1Only: z.boolean().optional(),
    /** Keys diversified for this UID instead of the card's own: a card with cloned keys. */
    diversifyForUid: HexBytes(7).optional(),
    /** The card's non-volatile memory. */
    statePath: z.string().min(1),
    faults: z.array(DesfireFaultSpec).optional(),
  })
  .strict()
  .refine((c) => (c.balance ?? 0) <= (c.upperLimit ?? DEFAULT_UPPER_LIMIT), {
    message: "balance exceeds upperLimit",
    path: ["balance"],
  });

export const CardSpec = z.discriminatedUnion("kind", [
  SelectCardSpec,
  PurseCardSpec,
  SamCardSpec,
  DesfireCardSpec,
]);
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
  style: "direct",
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
