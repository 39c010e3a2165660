import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { TermhostError } from "../../src/errors/errors.js";
import { formatZodIssues } from "../../src/errors/zod-format.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/index.js";
import type { IssuerHostOptions } from "./issuer-host.js";

const Token = z.string().regex(/^[\x21-\x7e]{16,512}$/, "16 to 512 printable ASCII characters");

/** The simulated issuer's state file (`termhost-sim issuer --state`): its key, its terminals, its ledger. */
export const IssuerStateFile = z
  .object({
    masterKey: z
      .string()
      .regex(/^[0-9A-Fa-f]{32}$/, "16-byte key as hex")
      .default(SIMULATOR_MASTER_KEY_HEX),
    terminals: z
      .array(
        z
          .object({ terminalId: z.string().regex(/^[0-9A-Fa-f]{16}$/, "8 bytes as hex"), token: Token })
          .strict(),
      )
      .min(1),
    adminToken: Token.optional(),
    /** Relative to the state file's folder. */
    ledger: z.string().min(1).default("issuer-ledger.json"),
  })
  .strict();

export function loadIssuerState(path: string): IssuerHostOptions {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `${path}: not a readable JSON file`, {
      cause: e,
      context: { path },
    });
  }
  const parsed = IssuerStateFile.safeParse(raw);
  if (!parsed.success) {
    throw new TermhostError("CONFIG_INVALID", `${path}: ${formatZodIssues(parsed.error).join("; ")}`, {
      context: { path },
    });
  }
  const s = parsed.data;
  return {
    masterKey: Buffer.from(s.masterKey, "hex"),
    ledgerPath: resolve(dirname(path), s.ledger),
    terminals: s.terminals.map((t) => ({ terminalId: Buffer.from(t.terminalId, "hex"), token: t.token })),
    ...(s.adminToken === undefined ? {} : { adminToken: s.adminToken }),
  };
}
