import { join } from "node:path";
import { pino } from "pino";
import { type Journal, openJournal } from "../../../src/journal/index.js";
import type { PostageService } from "../../../src/postage/postage-service.js";
import { ValueEngine } from "../../../src/value/engine.js";
import {
  emptyValueState,
  isOpen,
  reduceValue,
  type ValueRecords,
  type ValueState,
  type ValueTx,
  ValueRecords as valueRecordTypes,
  valueSnapshot,
} from "../../../src/value/records.js";

export type ValueJournal = Journal<ValueRecords, ValueState, unknown>;

export function openValueJournal(dir: string): Promise<ValueJournal> {
  return openJournal({
    path: join(dir, "value.journal"),
    types: valueRecordTypes,
    initialState: emptyValueState,
    reduce: reduceValue,
    snapshot: valueSnapshot(86_400_000),
  }) as unknown as Promise<ValueJournal>;
}

/** The value engine with the postage service's meters as its only targets, as the daemon wires it. */
export interface Refills {
  engine: ValueEngine;
  journal: ValueJournal;
  /** postage.refill's path: submit, then wait up to `waitMs` for a restore to settle it. */
  refill(p: {
    amount: number;
    requestId: string;
    meter: string;
    authorization?: string;
    waitMs?: number;
  }): Promise<ValueTx>;
  close(): Promise<void>;
}

export async function openRefills(service: PostageService, dir: string, retryMs = 200): Promise<Refills> {
  const journal = await openValueJournal(dir);
  const engine = new ValueEngine({
    journal,
    currencies: [],
    limits: { maxBalance: 0, maxSingleLoad: 0, maxSingleDebit: 0, dailyLoadTotal: 0 },
    retryMs,
    log: pino({ level: "silent" }),
  });
  engine.addDevices(service.refillDevices());
  engine.start();
  return {
    engine,
    journal,
    async refill(p) {
      const terms: Record<string, string> = { nextInspection: "2099-12-31" };
      if (p.authorization !== undefined) terms.authorization = p.authorization;
      const tx = await engine.refill({
        reader: p.meter,
        amount: p.amount,
        currency: 978,
        requestId: p.requestId,
        terms,
      });
      return isOpen(tx) ? ((await engine.settled(tx.txId, p.waitMs ?? 10_000)) ?? tx) : tx;
    },
    async close() {
      engine.stop();
      await engine.idle();
      await journal.close();
    },
  };
}
