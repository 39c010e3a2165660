import { z } from "zod";
import { MAX_COUNTER, MAX_MONEY } from "../../src/purse/messages/fields.js";
import { IssuerBehaviour } from "../issuer/behaviour.js";
import { PurseFaultSpec } from "../scenario.js";

/**
 * A whole simulated kiosk as a vendor writes it (YAML or JSON): readers and their cards, meters,
 * scales, the issuer host and the daemon. What the simulators change at run time (balances,
 * counters, registers, ledgers) lives in the state directory; the values here apply only when
 * that state does not exist yet.
 */

const hexOf = (bytes: number) =>
  z
    .string()
    .transform((s) => s.replace(/[\s:]/g, ""))
    .refine((s) => /^([0-9a-fA-F]{2})*$/.test(s), `expected hex digits, ${bytes} bytes`)
    .refine((s) => s.length === 2 * bytes, `expected ${bytes} bytes of hex (${2 * bytes} digits)`);

const HexAny = z
  .string()
  .transform((s) => s.replace(/[\s:]/g, ""))
  .refine((s) => /^([0-9a-fA-F]{2})+$/.test(s), "expected an even number of hex digits");

const Money = z.number().int().min(0).max(MAX_MONEY);

const PurseCard = z
  .object({
    kind: z.literal("purse"),
    cardId: hexOf(8),
    /** ISO 4217 numeric, e.g. 978 for EUR. */
    currency: z.number().int().min(1).max(999).default(978),
    balance: Money.default(0),
    counter: z.number().int().min(0).max(MAX_COUNTER).default(0),
    maxBalance: Money.default(100_000),
    /** Issuer master key; the simulators' well-known test key when left out. */
    masterKey: hexOf(16).optional(),
    /** Faults armed from the start (one-shot each), as `card.tear` arms them later. */
    faults: z.array(PurseFaultSpec).default([]),
  })
  .strict()
  .refine((c) => c.balance <= c.maxBalance, { message: "balance exceeds maxBalance", path: ["balance"] });

const SamCard = z.object({ kind: z.literal("sam"), masterKey: hexOf(16).optional() }).strict();

const SelectCard = z
  .object({
    kind: z.literal("select"),
    atr: HexAny,
    aid: HexAny,
    style: z.enum(["direct", "get-response"]).default("direct"),
  })
  .strict();

export const ScenarioCard = z.discriminatedUnion("kind", [PurseCard, SamCard, SelectCard]);

const Reader = z
  .object({
    card: ScenarioCard.optional(),
    inserted: z.boolean().default(false),
  })
  .strict();

const Meter = z
  .object({
    serial: z.string().regex(/^[A-Za-z0-9-]{1,16}$/, "1 to 16 letters, digits or dashes"),
    profile: z.string().min(1).default("termhost simulated meter"),
    baud: z.number().int().min(1200).max(4_000_000).default(115_200),
    registers: z
      .object({
        /** Postage used so far. */
        ascending: Money.default(0),
        /** Funds left; the control total is ascending + descending. */
        descending: Money.default(0),
        pieceCount: z.number().int().min(0).default(0),
      })
      .strict()
      .prefault({}),
    inspectionDue: z.iso.date("expected a date, YYYY-MM-DD").default("2099-12-31"),
    vendorKey: hexOf(16).optional(),
    macKey: hexOf(16).optional(),
  })
  .strict();

const Scale = z
  .object({
    grams: z.number().min(0).max(1_000_000).default(0),
    capacityGrams: z.number().int().min(1).max(1_000_000).default(10_000),
    reportIntervalMs: z.number().int().min(10).max(10_000).default(100),
  })
  .strict();

const Issuer = z
  .object({
    masterKey: hexOf(16).optional(),
    /** How it misbehaves from the start; `issuer.behave` changes it at run time. */
    behaviour: IssuerBehaviour.optional(),
  })
  .strict();

const Daemon = z
  .object({
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
    /** Merged over the configuration termhost-sim writes (see docs/config.md); termhostd validates it. */
    config: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const KioskScenario = z
  .object({
    /** One entry per reader slot (vpcd gives them in pairs). */
    readers: z.array(Reader).min(1).max(16),
    meters: z.array(Meter).max(4).default([]),
    scales: z.array(Scale).max(4).default([]),
    /** With an issuer host, loads are authorized by it over HTTP instead of by a SAM. */
    issuer: Issuer.optional(),
    daemon: Daemon.prefault({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Map<string, number>();
    s.readers.forEach((r, i) => {
      if (r.card?.kind !== "purse") return;
      const id = r.card.cardId.toUpperCase();
      const first = seen.get(id);
      if (first === undefined) seen.set(id, i);
      else
        ctx.addIssue({
          code: "custom",
          path: ["readers", i, "card", "cardId"],
          message: `duplicate card id ${id}: readers.${first} holds it already; expected each card id once`,
        });
    });
    const serials = new Map<string, number>();
    s.meters.forEach((m, i) => {
      const first = serials.get(m.serial);
      if (first === undefined) serials.set(m.serial, i);
      else
        ctx.addIssue({
          code: "custom",
          path: ["meters", i, "serial"],
          message: `duplicate meter serial ${m.serial}: meters.${first} has it already`,
        });
    });
  });
export type KioskScenario = z.infer<typeof KioskScenario>;
export type ScenarioCard = z.infer<typeof ScenarioCard>;
