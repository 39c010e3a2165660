import type { Logger } from "pino";
import { isTermhostError } from "../errors/errors.js";
import type { RecordInput } from "../journal/index.js";
import type { PostageLedger } from "./ledger/ledger.js";
import type { LedgerRecords } from "./ledger/records.js";
import { printedBefore, resolvePendingPrints } from "./ledger/recovery.js";
import type { BatchEntry } from "./ledger/state.js";
import { METER_REFUSALS, type MeterDriver } from "./meter/meter-driver.js";
import type { Indicium, LastTransaction, Registers } from "./protocol/index.js";

export interface ReconcileContext {
  ledger: PostageLedger;
  meter: string;
  driver: MeterDriver;
  /** Whether a live session runs the batch: it keeps an intent the meter did not print and resends it. */
  running(batchId: string): boolean;
  log: Logger | undefined;
}

type Fate =
  | { kind: "printed"; indicium: Indicium }
  | { kind: "not-printed" }
  | { kind: "unresolved"; reason: string };

/**
 * At a (re)connection, before anything value-moving is sent: decides every open print intent of the
 * meter and closes the batches no session runs any more. An intent is printed when it is the meter's
 * last transaction; otherwise, while the piece count shows prints the ledger has not recorded, the
 * journaled PRINT is sent again with its transaction id — the meter answers a print it made from its
 * memory, without printing again — until the count is explained; once it is, the rest were not
 * printed. An intent the meter refuses to answer for stays unresolved: held as spent, never voided.
 * Returns the registers the balance mirror is aligned with.
 */
export async function reconcilePrints(
  ctx: ReconcileContext,
  view: { registers: Registers; last: LastTransaction },
): Promise<Registers> {
  const { ledger, meter } = ctx;
  const { resolutions, unexplained: initial } = resolvePendingPrints(
    ledger.state,
    meter,
    view.registers,
    view.last,
  );
  if (initial !== 0)
    ctx.log?.warn(
      { meter, mirror: ledger.state.meters.get(meter)?.pieceCount, meterPieces: view.registers.pieceCount },
      "meter piece count differs from the ledger's: open intents are asked of the meter",
    );
  let unexplained = initial;
  let printedNow = false;
  for (const r of resolutions) {
    const pending = ledger.batch(r.batchId)?.pending;
    // Decided by an earlier attempt of this reconciliation (one that waited for the journal).
    if (pending === null || pending === undefined || pending.request.txnId !== r.txnId) continue;
    let fate: Fate;
    if (r.printed) fate = { kind: "printed", indicium: r.indicium };
    else if (unexplained <= 0) fate = { kind: "not-printed" };
    else {
      fate = await askMeter(ctx, pending.request);
      if (fate.kind === "printed") {
        if (printedBefore(fate.indicium, view.registers)) unexplained--;
        else printedNow = true;
      }
    }
    await ledger.write(recordsFor(ctx, r.batchId, pending, fate));
  }
  return printedNow ? ctx.driver.readRegisters() : view.registers;
}

/** The journaled PRINT again, same transaction id: the meter's own answer about it. */
async function askMeter(
  ctx: ReconcileContext,
  request: NonNullable<BatchEntry["pending"]>["request"],
): Promise<Fate> {
  try {
    return { kind: "printed", indicium: await ctx.driver.link.print(request) };
  } catch (e) {
    // Anything but a refusal (the line, a timeout) fails this reconciliation: the next connection retries.
    if (!isTermhostError(e) || !METER_REFUSALS.has(e.code)) throw e;
    ctx.log?.error(
      { meter: ctx.meter, txnId: request.txnId, err: e },
      "the meter cannot tell whether a piece printed: left unresolved",
    );
    return { kind: "unresolved", reason: `the meter refused the resend (${e.code}): it may have printed` };
  }
}

function recordsFor(
  ctx: ReconcileContext,
  batchId: string,
  pending: NonNullable<BatchEntry["pending"]>,
  fate: Fate,
): RecordInput<LedgerRecords>[] {
  const { pieceIndex, request } = pending;
  const records: RecordInput<LedgerRecords>[] = [];
  if (fate.kind === "printed") {
    const i = fate.indicium;
    records.push({
      type: "indicium.printed",
      body: {
        batchId,
        pieceIndex,
        txnId: i.txnId,
        amount: i.amount,
        sequence: i.sequence,
        descendingAfter: i.descendingAfter,
        date: i.date,
        mac: i.mac,
      },
    });
  } else if (fate.kind === "unresolved") {
    records.push({
      type: "print.unresolved",
      body: { batchId, pieceIndex, txnId: request.txnId, amount: request.amount, reason: fate.reason },
    });
  } else if (!ctx.running(batchId)) {
    records.push({
      type: "print.voided",
      body: {
        batchId,
        pieceIndex,
        txnId: request.txnId,
        reason: "not printed (no print of the meter's is unaccounted for)",
      },
    });
  }
  if (ctx.running(batchId)) return records;
  const batch = ctx.ledger.batch(batchId);
  const unresolved = (batch?.unresolved.length ?? 0) + (fate.kind === "unresolved" ? 1 : 0);
  const spent = fate.kind === "not-printed" ? 0 : request.amount;
  records.push({
    type: "reservation.closed",
    body: {
      batchId,
      outcome: "interrupted",
      released: Math.max(0, (batch?.remaining ?? 0) - spent),
      reason:
        unresolved === 0
          ? "daemon restarted"
          : `daemon restarted; ${unresolved} piece(s) unresolved: the meter could not tell whether they printed`,
      closedAt: new Date().toISOString(),
    },
  });
  return records;
}
