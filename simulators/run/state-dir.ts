import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freshMeterState, saveMeterState } from "../meter/state-file.js";
import type { CardSpec } from "../scenario.js";
import type { KioskScenario, ScenarioCard } from "./kiosk-scenario.js";

/**
 * Where a simulated kiosk keeps what must survive a restart: each card's memory, the SAM ledgers,
 * the meters' registers, the issuer's tokens and ledger, the daemon's journals. A value from the
 * scenario seeds a file only when the file does not exist yet.
 */
export class StateDir {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, "cards"), { recursive: true });
  }

  get daemonDir(): string {
    return join(this.dir, "daemon");
  }

  /** The card simulator's spec of a scenario card, its memory in this directory. */
  cardSpec(card: ScenarioCard, slot: number): CardSpec {
    const key = card.kind !== "select" && card.masterKey !== undefined ? { masterKey: card.masterKey } : {};
    switch (card.kind) {
      case "purse":
        return {
          kind: "purse",
          cardId: card.cardId,
          currency: card.currency,
          balance: card.balance,
          counter: card.counter,
          maxBalance: card.maxBalance,
          statePath: join(this.dir, "cards", `purse-${card.cardId.toUpperCase()}.json`),
          faults: card.faults,
          ...key,
        };
      case "sam":
        return { kind: "sam", ledgerPath: join(this.dir, `sam-slot${slot}-ledger.json`), ...key };
      case "select":
        return card;
    }
  }

  /** The meter's state file, created from the scenario when it does not exist. */
  meterState(m: KioskScenario["meters"][number]): string {
    const path = join(this.dir, `meter-${m.serial}.json`);
    if (existsSync(path)) return path;
    const { ascending, descending, pieceCount } = m.registers;
    saveMeterState(
      path,
      freshMeterState({
        serial: m.serial,
        inspectionDue: m.inspectionDue,
        ...(m.vendorKey === undefined ? {} : { vendorKey: m.vendorKey.toLowerCase() }),
        ...(m.macKey === undefined ? {} : { macKey: m.macKey.toLowerCase() }),
        registers: {
          ascending,
          descending,
          controlTotal: ascending + descending,
          pieceCount,
          batchCount: 0,
          batchValue: 0,
          serial: m.serial,
        },
      }),
    );
    return path;
  }

  /** The issuer host's state file; its tokens are made once and kept. */
  issuerState(
    issuer: NonNullable<KioskScenario["issuer"]>,
    terminalId: string,
  ): { path: string; terminalToken: string; adminToken: string } {
    const path = join(this.dir, "issuer.json");
    if (!existsSync(path)) {
      const state = {
        ...(issuer.masterKey === undefined ? {} : { masterKey: issuer.masterKey }),
        terminals: [{ terminalId, token: randomBytes(24).toString("hex") }],
        adminToken: randomBytes(24).toString("hex"),
        ledger: "issuer-ledger.json",
      };
      writeFileSync(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
    }
    const s = JSON.parse(readFileSync(path, "utf8")) as {
      terminals: Array<{ terminalId: string; token: string }>;
      adminToken: string;
    };
    const terminal = s.terminals.find((t) => t.terminalId.toUpperCase() === terminalId.toUpperCase());
    if (terminal === undefined) {
      throw new Error(`${path} has no token for terminal ${terminalId}; remove the file to make one`);
    }
    return { path, terminalToken: terminal.token, adminToken: s.adminToken };
  }
}
