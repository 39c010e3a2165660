import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { LOG_RECORD_SIZE, LOG_RECORDS } from "../../../src/desfire/protocol/index.js";
import { TermhostError } from "../../../src/errors/errors.js";
import { formatZodIssues } from "../../../src/errors/zod-format.js";
import { discardTornWrite, writeAtomically } from "../purse/atomic-file.js";

/** What a DESFire card keeps in non-volatile memory (its keys come from the scenario). */
export interface DesfireState {
  uid: Buffer;
  lowerLimit: number;
  upperLimit: number;
  balance: number;
  limitedCreditEnabled: boolean;
  /** What LimitedCredit may still add: the debits of the last committed transaction, once. */
  limitedCreditValue: number;
  /** Committed log records, oldest first; a cyclic file of 8 keeps at most 7. */
  records: Buffer[];
}

export const MAX_COMMITTED_RECORDS = LOG_RECORDS - 1;
const Int32 = z.number().int().min(-0x80000000).max(0x7fffffff);

const StateFile = z
  .object({
    format: z.literal("termhost-desfire-state"),
    version: z.literal(1),
    uid: z.string().regex(/^[0-9a-fA-F]{14}$/, "expected 7 bytes of hex"),
    lowerLimit: Int32,
    upperLimit: Int32,
    balance: Int32,
    limitedCreditEnabled: z.boolean(),
    limitedCreditValue: Int32.min(0),
    records: z
      .array(
        z.string().regex(new RegExp(`^[0-9a-fA-F]{${2 * LOG_RECORD_SIZE}}$`), "expected one record of hex"),
      )
      .max(MAX_COMMITTED_RECORDS),
  })
  .strict()
  .refine((s) => s.lowerLimit <= s.balance && s.balance <= s.upperLimit, "balance outside the file's limits");

export function serializeDesfireState(s: DesfireState): Buffer {
  const file: z.input<typeof StateFile> = {
    format: "termhost-desfire-state",
    version: 1,
    uid: s.uid.toString("hex"),
    lowerLimit: s.lowerLimit,
    upperLimit: s.upperLimit,
    balance: s.balance,
    limitedCreditEnabled: s.limitedCreditEnabled,
    limitedCreditValue: s.limitedCreditValue,
    records: s.records.map((r) => r.toString("hex")),
  };
  return Buffer.from(`${JSON.stringify(file, null, 2)}\n`);
}

/** Reads a state file; undefined when there is none yet. A leftover torn write is discarded first. */
export function loadDesfireState(path: string): DesfireState | undefined {
  discardTornWrite(path);
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `${path}: DESFire card state is not JSON`, {
      cause: e,
      context: { path },
    });
  }
  const parsed = StateFile.safeParse(raw);
  if (!parsed.success) {
    throw new TermhostError(
      "CONFIG_INVALID",
      `${path}: invalid DESFire card state: ${formatZodIssues(parsed.error).join("; ")}`,
      { context: { path } },
    );
  }
  const f = parsed.data;
  return {
    uid: Buffer.from(f.uid, "hex"),
    lowerLimit: f.lowerLimit,
    upperLimit: f.upperLimit,
    balance: f.balance,
    limitedCreditEnabled: f.limitedCreditEnabled,
    limitedCreditValue: f.limitedCreditValue,
    records: f.records.map((r) => Buffer.from(r, "hex")),
  };
}

/** Commits a state; false when a fault cut the write after `stopAfterBytes` (the old state stays). */
export function saveDesfireState(path: string, s: DesfireState, stopAfterBytes?: number): boolean {
  return writeAtomically(path, serializeDesfireState(s), stopAfterBytes);
}
