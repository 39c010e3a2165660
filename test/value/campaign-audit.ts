import type { ValueTransaction } from "../../src/api/schemas/value.js";
import { waitUntil } from "../../src/util/wait.js";
import type { Kiosk, Params } from "./campaign-kiosk.js";
import {
  CARD_IDS,
  CARD_SLOTS,
  DAEMON_TERMINAL,
  FUNDS,
  INITIAL,
  type Observation,
  type Op,
  type ResendCheck,
} from "./campaign-model.js";
import { cardFile, type LedgerEntryFile, samLedger } from "./support.js";

export interface Audit {
  operations: Record<string, number>;
  outcomes: Record<string, number>;
  /** What the restore decided after another terminal used the card: `tear-before-commit, 1 use → failed`… */
  secondTerminal: Record<string, number>;
  discrepancies: string[];
  cards: Array<{
    cardId: string;
    balance: number;
    expectedBalance: number;
    counter: number;
    expectedCounter: number;
    elsewhere: number;
  }>;
  meter: { controlTotal: number; expected: number; ascending: number; descending: number };
}

interface AuditInput {
  auditor: Kiosk;
  ops: Op[];
  observations: Observation[];
  resends: ResendCheck[];
  dir: string;
  meterRegisters: () => { ascending: number; descending: number; controlTotal: number };
}

const sameParams = (p: Params, tx: ValueTransaction): boolean =>
  p.kind === tx.kind && p.reader === tx.reader && p.amount === tx.amount;

/**
 * Every outcome accounted for. `applied`: on its card (or meter) exactly once, its authorization
 * applied. `failed`: not on the card, any authorization reversed. `unresolved`: only where the
 * card moved on two or more past the transaction's counter; nothing reversed (the SAM's ledger may
 * show it issued). A kiosk told a final state the journal later contradicts, a conflicting request
 * answered as its own, two authorizations under one requestId, a reversal for a credit that landed:
 * each is a discrepancy.
 */
export async function audit(input: AuditInput): Promise<Audit> {
  const { auditor, ops, observations } = input;
  const discrepancies: string[] = [];
  const outcomes: Record<string, number> = {};
  const operations: Record<string, number> = {};
  const secondTerminal: Record<string, number> = {};
  const count = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };

  // The journal's word on each requestId, once every reversal has been reported.
  const finals = new Map<string, ValueTransaction | undefined>();
  for (const op of ops) {
    const tx = await waitUntil(
      `${op.requestId}: its reversal reported`,
      async () => {
        const t = await auditor.status(op.requestId).catch(() => null);
        if (t === null) return undefined;
        return t === undefined || t.reversal === null || t.reversal.reported ? { t } : undefined;
      },
      60_000,
      200,
    );
    finals.set(op.requestId, tx.t);
  }

  /** Where another terminal's use tells whether a transaction landed on its card before. */
  const observed = (op: Op, tx: ValueTransaction) => {
    const slot = CARD_SLOTS[CARD_IDS.indexOf(tx.cardId ?? "")] ?? -1;
    const o = observations.find((x) => x.round === op.round && x.slot === slot);
    if (o === undefined) return undefined;
    const l = o.report.before.last;
    const landed =
      l !== null &&
      l.type === (tx.kind === "load" ? "credit" : "debit") &&
      l.amount === tx.amount &&
      l.terminalId === DAEMON_TERMINAL;
    return { o, landed, uses: o.report.debits.length };
  };

  const landedUnresolved = new Set<string>();
  for (const op of ops) {
    const tx = finals.get(op.requestId);
    const kind = op.sends[0]?.params.kind ?? "?";
    count(operations, kind);
    if (tx === undefined) {
      for (const s of op.sends)
        if (s.told?.kind === "tx")
          discrepancies.push(
            `${op.requestId}: ${s.who} was told ${s.told.tx.state}, the journal has nothing`,
          );
        else if (s.told?.kind === "conflict")
          discrepancies.push(`${op.requestId}: ${s.who} was told REQUEST_CONFLICT, the journal has nothing`);
      count(
        outcomes,
        `${kind} refused ${op.sends.map((s) => (s.told?.kind === "refused" ? s.told.code : "?")).join("/")}`,
      );
      continue;
    }
    count(
      outcomes,
      `${tx.kind} ${tx.state}${tx.restored === null ? "" : ` (${tx.restored})`}${tx.state === "failed" ? ` ${tx.error?.code}` : ""}${tx.unresolved === null ? "" : ` (${tx.unresolved.reason})`}`,
    );
    // What each kiosk was told, against the journal.
    let owners = 0;
    for (const s of op.sends) {
      const mine = sameParams(s.params, tx);
      if (mine) owners++;
      const t = s.told;
      if (t === undefined) discrepancies.push(`${op.requestId}: ${s.who} never got an answer`);
      else if (t.kind === "tx") {
        if (t.tx.txId !== tx.txId)
          discrepancies.push(
            `${op.requestId}: ${s.who} was told ${t.tx.txId}, the journal has ${tx.txId}: two transactions`,
          );
        else if (t.tx.state !== tx.state)
          discrepancies.push(
            `${op.requestId}: ${s.who} was told ${t.tx.state}, the journal now says ${tx.state}`,
          );
        if (!mine)
          discrepancies.push(
            `${op.requestId}: ${s.who}'s other parameters were answered with the transaction`,
          );
      } else if (t.kind === "conflict") {
        if (mine)
          discrepancies.push(`${op.requestId}: ${s.who} was told REQUEST_CONFLICT for its own transaction`);
      } else if (mine) {
        discrepancies.push(
          `${op.requestId}: ${s.who} was told refused ${t.code}, yet the journal has it ${tx.state}`,
        );
      } else {
        discrepancies.push(
          `${op.requestId}: ${s.who}'s other parameters were refused ${t.code}, not REQUEST_CONFLICT`,
        );
      }
    }
    if (owners === 0) discrepancies.push(`${op.requestId}: the transaction matches no kiosk's request`);
    if (op.dup === "conflict-amount" || op.dup === "conflict-reader")
      count(
        operations,
        `requestId sent with other parameters (${op.sends.filter((s) => s.told?.kind === "conflict").length} REQUEST_CONFLICT)`,
      );
    if (op.dup === "same") count(operations, "requestId sent twice at once");

    const seen = tx.kind === "refill" ? undefined : observed(op, tx);
    if (tx.state === "unresolved") {
      if (tx.reversal !== null) discrepancies.push(`${op.requestId}: unresolved, yet reported for reversal`);
      if (seen === undefined || seen.uses + (seen.landed ? 1 : 0) < 2)
        discrepancies.push(
          `${op.requestId}: unresolved though the card did not move on 2 past it (${seen === undefined ? "no other terminal" : `${seen.uses} uses, ours ${seen.landed ? "landed" : "not landed"}`})`,
        );
      if (seen?.landed === true) landedUnresolved.add(op.requestId);
    }
    if (tx.state === "failed" && seen?.landed === true)
      discrepancies.push(`${op.requestId}: failed, yet the other terminal saw it on the card`);
    if (seen !== undefined) {
      const where = `${seen.o.after}, ${seen.uses} use${seen.uses === 1 ? "" : "s"}${seen.landed ? ", ours landed" : ""}`;
      count(secondTerminal, `${tx.kind} ${where} → ${tx.state}`);
      // A torn CREDIT or DEBIT was journaled `authorized`/`debiting`: restore meets the card moved on.
      if (seen.o.after !== "kill") {
        const expected = seen.uses + (seen.landed ? 1 : 0) >= 2 ? "unresolved" : "failed";
        if (tx.state !== expected)
          discrepancies.push(
            `${op.requestId}: ${where}: restore closed it ${tx.state}, expected ${expected}`,
          );
        if (expected === "failed" && tx.kind === "load" && tx.reversal?.reported !== true)
          discrepancies.push(
            `${op.requestId}: ${where}: failed without its authorization reported for reversal`,
          );
      }
    }
  }

  // The SAM's ledger: one authorization per load at most, in the state its transaction says.
  const ledger = samLedger(input.dir);
  const loads = new Map<number, { op: Op; tx: ValueTransaction | undefined; params: Params }>();
  for (const op of ops)
    for (const s of op.sends)
      if (s.params.kind === "load")
        loads.set(s.params.amount, { op, tx: finals.get(op.requestId), params: s.params });
  const byAmount = new Map<number, LedgerEntryFile[]>();
  for (const e of ledger) byAmount.set(e.amount, [...(byAmount.get(e.amount) ?? []), e]);
  for (const [amount, entries] of byAmount) {
    const l = loads.get(amount);
    const ids = entries.map((e) => `${e.authorizationId} ${e.status}`).join(", ");
    if (l === undefined) {
      discrepancies.push(`SAM ledger: authorization(s) ${ids} of ${amount} for no request`);
      continue;
    }
    if (entries.length > 1)
      discrepancies.push(`${l.op.requestId}: ${entries.length} authorizations (${ids})`);
    const tx = l.tx;
    if (tx === undefined || !sameParams(l.params, tx)) {
      discrepancies.push(
        `${l.op.requestId}: authorization ${ids} for parameters that are not its transaction`,
      );
      continue;
    }
    for (const e of entries) {
      const want =
        tx.state === "applied" ? ["applied"] : tx.state === "failed" ? ["reversed"] : ["issued", "applied"];
      if (!want.includes(e.status))
        discrepancies.push(
          `${l.op.requestId}: ${tx.state}, yet its authorization ${e.authorizationId} is ${e.status}`,
        );
      if (tx.state === "failed" && tx.reversal !== null && tx.reversal.authorizationId !== e.authorizationId)
        discrepancies.push(
          `${l.op.requestId}: reported ${tx.reversal.authorizationId} for reversal, the ledger has ${e.authorizationId}`,
        );
    }
  }
  for (const op of ops) {
    const tx = finals.get(op.requestId);
    if (tx?.kind === "load" && tx.state === "applied" && !byAmount.has(tx.amount))
      discrepancies.push(`${op.requestId}: applied without an authorization in the SAM's ledger`);
  }

  // Each card: what landed on it, by this terminal and by the other one.
  const cards = CARD_IDS.map((cardId, k) => {
    let expectedBalance = INITIAL;
    let expectedCounter = 0;
    for (const op of ops) {
      const tx = finals.get(op.requestId);
      if (tx === undefined || tx.cardId !== cardId || tx.kind === "refill") continue;
      if (tx.state === "applied" || landedUnresolved.has(op.requestId)) {
        expectedBalance += tx.kind === "load" ? tx.amount : -tx.amount;
        expectedCounter++;
      }
    }
    let elsewhere = 0;
    for (const o of observations.filter((x) => x.slot === CARD_SLOTS[k]))
      for (const d of o.report.debits) {
        expectedBalance -= d.amount;
        expectedCounter++;
        elsewhere++;
      }
    const file = cardFile(input.dir, cardId);
    if (file.balance !== expectedBalance)
      discrepancies.push(`${cardId}: balance ${file.balance}, expected ${expectedBalance}`);
    if (file.counter !== expectedCounter)
      discrepancies.push(`${cardId}: counter ${file.counter}, expected ${expectedCounter}`);
    return {
      cardId,
      balance: file.balance,
      expectedBalance,
      counter: file.counter,
      expectedCounter,
      elsewhere,
    };
  });

  // The meter: credited once for each applied refill, its registers consistent.
  const r = input.meterRegisters();
  let expected = FUNDS;
  for (const op of ops) {
    const tx = finals.get(op.requestId);
    if (tx?.kind === "refill" && tx.state === "applied") expected += tx.amount;
    if (tx?.kind === "refill" && tx.state === "unresolved")
      discrepancies.push(`${op.requestId}: refill unresolved`);
  }
  if (r.controlTotal !== expected)
    discrepancies.push(`meter: control total ${r.controlTotal}, expected ${expected}`);
  if (r.ascending + r.descending !== r.controlTotal)
    discrepancies.push(
      `meter: ascending ${r.ascending} + descending ${r.descending} ≠ control total ${r.controlTotal}`,
    );

  // Sent again after a clock jump: the transaction it had, never a new one.
  for (const c of input.resends) {
    if (typeof c.after === "string" || c.after.txId !== c.before.txId || c.after.state !== c.before.state)
      discrepancies.push(
        `${c.requestId}: sent again after the clock moved to ${c.jump}: was ${c.before.txId} ${c.before.state}, now ${typeof c.after === "string" ? c.after : `${c.after.txId} ${c.after.state}`}`,
      );
  }

  return {
    operations,
    outcomes,
    secondTerminal,
    discrepancies,
    cards,
    meter: { controlTotal: r.controlTotal, expected, ascending: r.ascending, descending: r.descending },
  };
}
