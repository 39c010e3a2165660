import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CardSpec } from "../../simulators/scenario.js";

export const EUR = 978;

export function purseSpec(
  dir: string,
  cardId: string,
  extra: Partial<Record<string, unknown>> = {},
): CardSpec {
  return {
    kind: "purse",
    cardId,
    currency: EUR,
    balance: 1000,
    maxBalance: 1_000_000,
    statePath: join(dir, `purse-${cardId}.json`),
    ...extra,
  } as CardSpec;
}

export function samSpec(dir: string): CardSpec {
  return { kind: "sam", ledgerPath: join(dir, "sam-ledger.json") };
}

/** The card's non-volatile memory, as the simulator keeps it. */
export function cardFile(dir: string, cardId: string): { balance: number; counter: number } {
  return JSON.parse(readFileSync(join(dir, `purse-${cardId}.json`), "utf8")) as {
    balance: number;
    counter: number;
  };
}

export interface LedgerEntryFile {
  authorizationId: number;
  status: "issued" | "applied" | "reversed";
  cardId: string;
  counter: number;
  amount: number;
}

export function samLedger(dir: string): LedgerEntryFile[] {
  try {
    return (
      JSON.parse(readFileSync(join(dir, "sam-ledger.json"), "utf8")) as { authorizations: LedgerEntryFile[] }
    ).authorizations;
  } catch {
    return [];
  }
}
