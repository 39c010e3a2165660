/**
 * The power-loss campaign on the value ledger's own records (src/value/records.ts, unchanged):
 * writers run loads (requested → authorizing → authorized → applied/failed) and purchases
 * (requested → debiting → applied), each step appended only after the previous one resolved, as
 * the engine does. On replay a wrapper around reduceValue checks that a transaction's records
 * never arrive out of order, so the restore record (`value.authorized`) is there whenever a later
 * record of its load is; after the cut every acknowledged step must be reflected in the state.
 */

import type { JournalFs } from "../../../src/journal/fs.js";
import { openJournal } from "../../../src/journal/index.js";
import type { JournalRecord } from "../../../src/journal/types.js";
import {
  emptyValueState,
  type Phase,
  reduceValue,
  ValueRecords,
  type ValueState,
  valueSnapshot,
} from "../../../src/value/records.js";
import type { Workload, WorkloadEnv } from "./power-loss-campaign.js";

const AT = "2025-01-02T03:04:05.000Z";
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

/** Which phase a record moves a transaction to, and from which phases it may come. */
const STEP: Record<string, { to: Phase; from: readonly (Phase | null)[] }> = {
  "value.requested": { to: "requested", from: [null] },
  "value.authorizing": { to: "authorizing", from: ["requested"] },
  "value.authorized": { to: "authorized", from: ["authorizing"] },
  "value.debiting": { to: "debiting", from: ["requested"] },
  "value.applied": { to: "applied", from: ["authorized", "debiting"] },
  "value.failed": { to: "failed", from: ["requested", "authorizing", "authorized", "debiting"] },
};

const hex = (n: number, digits: number): string => n.toString(16).padStart(digits, "0").slice(-digits);

type Rec = {
  [K in keyof ValueRecords]: { type: K; body: Parameters<ValueRecords[K]["parse"]>[0] };
}[keyof ValueRecords];

/** The records of one transaction, in the order the engine writes them. */
function steps(txId: string, n: number, kind: "load" | "debit", fail: boolean): Rec[] {
  const cardId = hex(n * 7919, 16);
  const message = { counter: n, amount: 100 + n, currency: 978, terminalId: hex(0xabc, 16) };
  const requested: Rec = {
    type: "value.requested",
    body: { txId, requestId: `req-${txId}`, kind, reader: "r1", amount: 100 + n, currency: 978, at: AT },
  };
  const applied: Rec = {
    type: "value.applied",
    body: { txId, balanceAfter: 1000 + n, proof: hex(n, 16), restored: null, at: AT },
  };
  if (kind === "debit") {
    return [
      requested,
      { type: "value.debiting", body: { txId, cardId, balanceBefore: 5000, message, at: AT } },
      applied,
    ];
  }
  const authorized: Rec[] = [
    { type: "value.authorizing", body: { txId, cardId, counter: n, balanceBefore: 10, at: AT } },
    {
      type: "value.authorized",
      body: { txId, authorizationId: n, message: { ...message, s2: hex(n + 1, 16) }, at: AT },
    },
  ];
  const end: Rec = fail
    ? {
        type: "value.failed",
        body: {
          txId,
          code: "CARD_REMOVED",
          message: "pulled",
          reversal: { authorizationId: n, reported: false },
          at: AT,
        },
      }
    : applied;
  return [requested, ...authorized, end];
}

export function valueWorkload(env: WorkloadEnv): Workload {
  /** Per transaction: its records, how many were submitted, how many acknowledged. */
  const txs = new Map<string, { recs: Rec[]; submitted: number; acked: number }>();
  const violations: string[] = [];
  let nextTx = 0;

  const reduce = (s: ValueState, r: JournalRecord<ValueRecords>): ValueState => {
    const step = STEP[r.type];
    const before = s.txs.get(r.body.txId)?.phase ?? null;
    if (step !== undefined && !step.from.includes(before)) {
      violations.push(
        `${r.body.txId}: ${r.type} (seq ${r.seq}) replayed while the transaction was ${before ?? "absent"}`,
      );
    }
    return reduceValue(s, r);
  };
  const open = (fs: JournalFs) =>
    openJournal({
      path: env.path,
      fs,
      sync: env.sync,
      compactAtBytes: env.compactAtBytes,
      types: ValueRecords,
      initialState: emptyValueState,
      reduce,
      snapshot: valueSnapshot(TEN_YEARS_MS),
    });
  type J = Awaited<ReturnType<typeof open>>;

  /** One terminal: its transactions one after the other, each step journaled before the next. */
  const writer = async (j: J, count: number): Promise<void> => {
    for (let k = 0; k < count; k++) {
      const n = nextTx++;
      const txId = `tx-${n}`;
      const recs = steps(txId, n, env.rand() < 0.3 ? "debit" : "load", env.rand() < 0.2);
      const tx = { recs, submitted: 0, acked: 0 };
      txs.set(txId, tx);
      for (const r of recs) {
        tx.submitted++;
        await j.append(r.type, r.body as never);
        tx.acked++;
      }
    }
  };

  return {
    async drive(fs, phase) {
      const j = await open(fs);
      const writers = Array.from({ length: env.writers }, () => writer(j, Math.ceil(env.opsPerPhase / 2)));
      const compactor = (async () => {
        const turns = Math.floor(env.rand() * env.opsPerPhase * 4);
        for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
        if (phase % 2 === 0 || env.rand() < 0.5) await j.compact();
      })();
      const settled = await Promise.allSettled([...writers, compactor]);
      await j.close();
      const failed = settled.find((s) => s.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    },
    async recover(fs) {
      const j = await open(fs);
      const dropped = j.recovery.droppedTail?.reason ?? null;
      try {
        await writer(j, 1);
      } finally {
        await j.close();
      }
      return dropped;
    },
    async verify(fs) {
      violations.length = 0;
      const j = await open(fs);
      const out = [...violations];
      try {
        for (const [txId, tx] of txs) {
          const got = j.state.txs.get(txId);
          // Phases are distinct within a transaction, so its phase says how many of its records were replayed.
          const present =
            got === undefined ? 0 : tx.recs.findIndex((r) => STEP[r.type]?.to === got.phase) + 1;
          if (got !== undefined && present === 0)
            out.push(`${txId}: state ${got.phase} is not a step it took`);
          if (present < tx.acked) {
            out.push(`${txId}: ${tx.acked} steps acknowledged, state is ${got?.phase ?? "absent"}`);
          }
          if (present > tx.submitted) out.push(`${txId}: state ${got?.phase} is past what was submitted`);
          const restoreAt = tx.recs.findIndex((r) => r.type === "value.authorized");
          if (restoreAt >= 0 && present > restoreAt && (got?.message ?? null) === null) {
            out.push(`${txId}: ${got?.phase} without its restore record`);
          }
        }
      } finally {
        await j.close();
      }
      return out;
    },
  };
}
