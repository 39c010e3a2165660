import { z } from "zod";
import { LogLevel } from "../../util/log-level.js";
import { ConsoleMethods } from "./console.js";
import { FleetMethods } from "./fleet.js";
import { RestoreMethods } from "./restore.js";

const Hex = z
  .string()
  .max(2 * (65_535 + 9) + 200)
  .regex(/^(?:[0-9a-fA-F]{2}|[\s:])*$/, "expected hex bytes, e.g. 00A4040008F054485055525345");

export const ApduExchangeView = z.object({
  /** The command as sent, hex; null when its data is a secret. */
  command: z.string().nullable(),
  /** Response data without the status word, hex; null when it is a secret. */
  data: z.string().nullable(),
  dataLength: z.number().int().nonnegative(),
  /** Status word, 4 hex digits. */
  sw: z.string(),
  meaning: z.string(),
  kind: z.enum(["success", "more-data", "warning", "wrong-le", "error", "unknown"]),
  /** One line per APDU on the wire (GET RESPONSE and re-issued commands included), secrets masked. */
  trace: z.array(z.string()),
});

const ReaderRaw = z.object({
  name: z.string(),
  card: z.enum(["absent", "present", "mute", "unavailable"]),
  atr: z.string().nullable(),
  inUse: z.boolean(),
  since: z.string(),
});

/** Methods of the technician's socket only; kiosk clients calling them get UNAUTHORIZED. */
export const AdminMethods = {
  "admin.apdu": {
    description:
      "sends raw command APDUs to the card in a reader, one after another in one card session; each answer with its status meaning and a trace (secrets masked)",
    params: z
      .object({
        reader: z.string().min(1).max(200),
        apdus: z.array(Hex).min(1).max(64),
        /** exclusive (default) keeps every other PC/SC client off the card for the whole sequence. */
        access: z.enum(["shared", "exclusive"]).default("exclusive"),
      })
      .strict(),
    result: z.object({
      reader: z.string(),
      protocol: z.number().int(),
      exchanges: z.array(ApduExchangeView),
    }),
  },
  "admin.logLevel": {
    description: "changes the daemon's log level until it restarts",
    params: z.object({ level: LogLevel }).strict(),
    result: z.object({ previous: LogLevel, level: LogLevel }),
  },
  "admin.readers": {
    description: "the PC/SC service state and every reader's raw state",
    params: z.object({}).strict(),
    result: z.object({
      pcsc: z.object({ state: z.enum(["connecting", "up", "down"]), error: z.string().optional() }),
      readers: z.array(ReaderRaw),
    }),
  },
  ...RestoreMethods,
  ...ConsoleMethods,
  ...FleetMethods,
} as const;
export type AdminMethodName = keyof typeof AdminMethods;
