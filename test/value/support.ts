import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Rig } from "../../simulators/rig/rig.js";
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

/**
 * The campaigns' kiosk: purse cards in slots 0, 2 and 3 with room for any number of loads, and the
 * SAM in slot 1 (two vpcd entries); slot 1 stays empty for a kiosk authorized by the issuer host.
 */
export function threeCardsAndSam(
  dir: string,
  cardIds: readonly string[],
  initial: number,
  withSam = true,
): Promise<Rig> {
  const purse = (k: number): CardSpec =>
    purseSpec(dir, cardIds[k] as string, { balance: initial, maxBalance: 2_000_000_000 });
  return Rig.start({
    readerEntries: 2,
    slots: [
      { card: purse(0), inserted: true },
      withSam ? { card: samSpec(dir), inserted: true } : { card: null },
      { card: purse(1), inserted: true },
      { card: purse(2), inserted: true },
    ],
  });
}
