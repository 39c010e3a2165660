import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { TermhostError } from "../../../src/errors/errors.js";
import { formatZodIssues } from "../../../src/errors/zod-format.js";
import { MAX_COUNTER, MAX_MONEY, type TransactionRecord } from "../../../src/purse/messages/index.js";
import { discardTornWrite, writeAtomically } from "./atomic-file.js";

/** Everything a purse card keeps in non-volatile memory. Its key is not here: it comes from the scenario. */
export interface PurseState {
  cardId: Buffer;
  currency: number;
  maxBalance: number;
  balance: number;
  /** The number the next value transaction will carry; one more than the last committed one. */
  counter: number;
  last: TransactionRecord | null;
}

const Hex8 = z.string().regex(/^[0-9a-fA-F]{16}$/, "expected 8 bytes of hex");
const Money = z.number().int().min(0).max(MAX_MONEY);

const RecordFile = z
  .object({
    type: z.enum(["credit", "debit"]),
    counter: z.number().int().min(0).max(MAX_COUNTER),
    amount: Money.min(1),
    currency: z.number().int().min(1).max(999),
    balanceAfter: Money,
    terminalId: Hex8,
    s2: Hex8,
    proof: Hex8,
  })
  .strict();

const StateFile = z
  .object({
    format: z.literal("termhost-purse-state"),
    version: z.literal(1),
    cardId: Hex8,
    currency: z.number().int().min(1).max(999),
    maxBalance: Money,
    balance: Money,
    counter: z.number().int().min(0).max(MAX_COUNTER),
    last: RecordFile.nullable(),
  })
  .strict()
  .refine((s) => s.balance <= s.maxBalance, "balance exceeds maxBalance");

function toFile(s: PurseState): z.input<typeof StateFile> {
  return {
    format: "termhost-purse-state",
    version: 1,
    cardId: s.cardId.toString("hex"),
    currency: s.currency,
    maxBalance: s.maxBalance,
    balance: s.balance,
    counter: s.counter,
    last:
      s.last === null
        ? null
        : {
            ...s.last,
            terminalId: s.last.terminalId.toString("hex"),
            s2: s.last.s2.toString("hex"),
            proof: s.last.proof.toString("hex"),
          },
  };
}

export function serializePurseState(s: PurseState): Buffer {
  return Buffer.from(`${JSON.stringify(toFile(s), null, 2)}\n`);
}

/** Reads a state file; undefined when there is none yet. A leftover torn write is discarded first. */
export function loadPurseState(path: string): PurseState | undefined {
  discardTornWrite(path);
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `${path}: purse state is not JSON`, {
      cause: e,
      context: { path },
    });
  }
  const parsed = StateFile.safeParse(raw);
  if (!parsed.success) {
    throw new TermhostError(
      "CONFIG_INVALID",
      `${path}: invalid purse state: ${formatZodIssues(parsed.error).join("; ")}`,
      {
        context: { path },
      },
    );
  }
  const f = parsed.data;
  return {
    cardId: Buffer.from(f.cardId, "hex"),
    currency: f.currency,
    maxBalance: f.maxBalance,
    balance: f.balance,
    counter: f.counter,
    last:
      f.last === null
        ? null
        : {
            ...f.last,
            terminalId: Buffer.from(f.last.terminalId, "hex"),
            s2: Buffer.from(f.last.s2, "hex"),
            proof: Buffer.from(f.last.proof, "hex"),
          },
  };
}

/** Commits a state; false when a fault cut the write after `stopAfterBytes` (the old state stays). */
export function savePurseState(path: string, s: PurseState, stopAfterBytes?: number): boolean {
  return writeAtomically(path, serializePurseState(s), stopAfterBytes);
}
