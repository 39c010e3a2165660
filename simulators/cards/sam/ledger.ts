import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { TermhostError } from "../../../src/errors/errors.js";
import { formatZodIssues } from "../../../src/errors/zod-format.js";
import { type AuthorizationStatus, MAX_COUNTER, MAX_MONEY } from "../../../src/purse/messages/index.js";
import { discardTornWrite, writeAtomically } from "../purse/atomic-file.js";

/** One authorization the SAM issued, and what became of it. */
export interface LedgerEntry {
  authorizationId: number;
  status: AuthorizationStatus;
  cardId: Buffer;
  counter: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
  s2: Buffer;
  /** Set when S3 verified: the card's balance after the credit. */
  balanceAfter?: number;
  issuedAt: string;
  updatedAt: string;
}

export interface Ledger {
  nextAuthorizationId: number;
  entries: LedgerEntry[];
}

const Hex8 = z.string().regex(/^[0-9a-fA-F]{16}$/, "expected 8 bytes of hex");
const EntryFile = z
  .object({
    authorizationId: z.number().int().min(1).max(0xffffffff),
    status: z.enum(["issued", "applied", "reversed"]),
    cardId: Hex8,
    counter: z.number().int().min(0).max(MAX_COUNTER),
    amount: z.number().int().min(1).max(MAX_MONEY),
    currency: z.number().int().min(1).max(999),
    terminalId: Hex8,
    s2: Hex8,
    balanceAfter: z.number().int().min(0).max(MAX_MONEY).optional(),
    issuedAt: z.string(),
    updatedAt: z.string(),
  })
  .strict();
/** Which authorizer wrote a ledger: the files share one layout and are told apart by name. */
export type LedgerFormat = "termhost-sam-ledger" | "termhost-issuer-ledger";

const LedgerFile = z
  .object({
    format: z.enum(["termhost-sam-ledger", "termhost-issuer-ledger"]),
    version: z.literal(1),
    nextAuthorizationId: z.number().int().min(1).max(0xffffffff),
    authorizations: z.array(EntryFile),
  })
  .strict();
export type LedgerFileEntry = z.infer<typeof EntryFile>;

/** The ledger as tests and reconciliation read it: plain JSON, ids and MACs in hex. */
export function ledgerToFile(
  l: Ledger,
  format: LedgerFormat = "termhost-sam-ledger",
): z.infer<typeof LedgerFile> {
  return {
    format,
    version: 1,
    nextAuthorizationId: l.nextAuthorizationId,
    authorizations: l.entries.map((e) => ({
      ...e,
      cardId: e.cardId.toString("hex"),
      terminalId: e.terminalId.toString("hex"),
      s2: e.s2.toString("hex"),
    })),
  };
}

export function loadLedger(path: string, format: LedgerFormat = "termhost-sam-ledger"): Ledger {
  discardTornWrite(path);
  if (!existsSync(path)) return { nextAuthorizationId: 1, entries: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `${path}: ledger is not JSON`, {
      cause: e,
      context: { path },
    });
  }
  const parsed = LedgerFile.safeParse(raw);
  if (parsed.success && parsed.data.format !== format) {
    throw new TermhostError("CONFIG_INVALID", `${path}: a ${parsed.data.format} file, expected ${format}`, {
      context: { path },
    });
  }
  if (!parsed.success) {
    throw new TermhostError(
      "CONFIG_INVALID",
      `${path}: invalid ledger: ${formatZodIssues(parsed.error).join("; ")}`,
      {
        context: { path },
      },
    );
  }
  return {
    nextAuthorizationId: parsed.data.nextAuthorizationId,
    entries: parsed.data.authorizations.map((e) => {
      const { balanceAfter, ...rest } = e;
      const entry: LedgerEntry = {
        ...rest,
        cardId: Buffer.from(e.cardId, "hex"),
        terminalId: Buffer.from(e.terminalId, "hex"),
        s2: Buffer.from(e.s2, "hex"),
      };
      if (balanceAfter !== undefined) entry.balanceAfter = balanceAfter;
      return entry;
    }),
  };
}

export function saveLedger(path: string, l: Ledger, format: LedgerFormat = "termhost-sam-ledger"): void {
  writeAtomically(path, Buffer.from(`${JSON.stringify(ledgerToFile(l, format), null, 2)}\n`));
}
