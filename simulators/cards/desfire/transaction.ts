import { DesfireStatus, FileNo, Ins, LOG_RECORD_SIZE } from "../../../src/desfire/protocol/index.js";
import { allowed, FILE_ACCESS, type Right } from "./files.js";
import { type DesfireState, MAX_COMMITTED_RECORDS } from "./state.js";

/** The uncommitted changes of the current DESFire transaction. */
export interface Shadow {
  delta: number;
  debits: number;
  credits: number;
  limited: number;
  record: Buffer | undefined;
}

const EMPTY: Shadow = { delta: 0, debits: 0, credits: 0, limited: 0, record: undefined };

/** A file command's outcome: an error status, or success with reply data and the new shadow. */
export type FileOutcome = { status: number } | { data: Buffer; shadow: Shadow | undefined };

/** What a file command sees: the committed state, the transaction so far, the key in force. */
export interface FileContext {
  state: DesfireState;
  shadow: Shadow | undefined;
  /** The authenticated key number; undefined when not authenticated. */
  keyNo: number | undefined;
}

const fail = (status: number): FileOutcome => ({ status });

/** 91 AE unauthenticated, 91 9D for a key without the right, undefined when allowed. */
function denied(c: FileContext, fileNo: number, rights: readonly Right[]): FileOutcome | undefined {
  const access = FILE_ACCESS[fileNo];
  if (access === undefined) return fail(DesfireStatus.FILE_NOT_FOUND);
  if (allowed(access, c.keyNo, rights)) return undefined;
  return fail(c.keyNo === undefined ? DesfireStatus.AUTHENTICATION_ERROR : DesfireStatus.PERMISSION_DENIED);
}

const VALUE_RIGHTS: Readonly<Record<number, readonly Right[]>> = {
  [Ins.GET_VALUE]: ["read", "write", "readWrite"],
  [Ins.DEBIT]: ["read", "write", "readWrite"],
  [Ins.LIMITED_CREDIT]: ["write", "readWrite"],
  [Ins.CREDIT]: ["readWrite"],
};

/**
 * GetValue (the committed value), and Credit / Debit / LimitedCredit into the shadow, each checked
 * against the limits as the shadow stands. LimitedCredit gives back at most the debits of the last
 * committed transaction, once, and mixes with no Debit or Credit in one transaction.
 */
export function valueCommand(c: FileContext, ins: number, fileNo: number, body: Buffer): FileOutcome {
  if (fileNo !== FileNo.VALUE) return fail(DesfireStatus.FILE_NOT_FOUND);
  const refused = denied(c, fileNo, VALUE_RIGHTS[ins] ?? []);
  if (refused !== undefined) return refused;
  const { state } = c;
  if (ins === Ins.GET_VALUE) {
    if (body.length !== 0) return fail(DesfireStatus.LENGTH_ERROR);
    const v = Buffer.alloc(4);
    v.writeInt32LE(state.balance);
    return { data: v, shadow: c.shadow };
  }
  if (body.length !== 4) return fail(DesfireStatus.LENGTH_ERROR);
  const amount = body.readInt32LE(0);
  if (amount < 0) return fail(DesfireStatus.PARAMETER_ERROR);
  const s = c.shadow ?? EMPTY;
  const value = state.balance + s.delta;
  const ok = (shadow: Shadow): FileOutcome => ({ data: Buffer.alloc(0), shadow });
  if (ins === Ins.DEBIT) {
    if (s.limited > 0) return fail(DesfireStatus.PARAMETER_ERROR);
    if (value - amount < state.lowerLimit) return fail(DesfireStatus.BOUNDARY_ERROR);
    return ok({ ...s, delta: s.delta - amount, debits: s.debits + amount });
  }
  if (value + amount > state.upperLimit) return fail(DesfireStatus.BOUNDARY_ERROR);
  if (ins === Ins.LIMITED_CREDIT) {
    if (!state.limitedCreditEnabled) return fail(DesfireStatus.PERMISSION_DENIED);
    if (s.debits > 0 || s.credits > 0) return fail(DesfireStatus.PARAMETER_ERROR);
    if (s.limited + amount > state.limitedCreditValue) return fail(DesfireStatus.BOUNDARY_ERROR);
    return ok({ ...s, delta: s.delta + amount, limited: s.limited + amount });
  }
  if (s.limited > 0) return fail(DesfireStatus.PARAMETER_ERROR);
  return ok({ ...s, delta: s.delta + amount, credits: s.credits + amount });
}

/** WriteRecord into the transaction's new record of the cyclic log (several writes fill one record). */
export function writeRecord(c: FileContext, header: Buffer, body: Buffer): FileOutcome {
  const fileNo = header[0] ?? 0;
  if (fileNo !== FileNo.LOG) return fail(DesfireStatus.FILE_NOT_FOUND);
  const refused = denied(c, fileNo, ["write", "readWrite"]);
  if (refused !== undefined) return refused;
  const offset = header.readUIntLE(1, 3);
  const length = header.readUIntLE(4, 3);
  if (length === 0 || body.length !== length) return fail(DesfireStatus.LENGTH_ERROR);
  if (offset + length > LOG_RECORD_SIZE) return fail(DesfireStatus.BOUNDARY_ERROR);
  const s = c.shadow ?? EMPTY;
  const record = Buffer.from(s.record ?? Buffer.alloc(LOG_RECORD_SIZE));
  body.copy(record, offset);
  return { data: Buffer.alloc(0), shadow: { ...s, record } };
}

/** ReadRecords of committed records: offset 0 is the newest, count 0 all; answered oldest first. */
export function readRecords(c: FileContext, header: Buffer, body: Buffer): FileOutcome {
  const fileNo = header[0] ?? 0;
  if (fileNo !== FileNo.LOG) return fail(DesfireStatus.FILE_NOT_FOUND);
  const refused = denied(c, fileNo, ["read", "readWrite"]);
  if (refused !== undefined) return refused;
  if (body.length !== 0) return fail(DesfireStatus.LENGTH_ERROR);
  const offset = header.readUIntLE(1, 3);
  const count = header.readUIntLE(4, 3);
  const records = c.state.records;
  if (records.length === 0 && offset === 0 && count === 0) return { data: Buffer.alloc(0), shadow: c.shadow };
  const newestFirst = [...records].reverse().slice(offset);
  if (newestFirst.length === 0 || count > newestFirst.length) return fail(DesfireStatus.BOUNDARY_ERROR);
  const chosen = (count === 0 ? newestFirst : newestFirst.slice(0, count)).reverse();
  return { data: Buffer.concat(chosen), shadow: c.shadow };
}

/**
 * The state CommitTransaction writes: the value moved, the new record appended (the cyclic file
 * keeps 7), and LimitedCredit's allowance set to this transaction's debits, or spent.
 */
export function committedState(state: DesfireState, s: Shadow): DesfireState {
  const records = s.record === undefined ? state.records : [...state.records, s.record];
  let limitedCreditValue = state.limitedCreditValue;
  if (s.debits > 0) limitedCreditValue = s.debits;
  else if (s.limited > 0 || s.credits > 0) limitedCreditValue = 0;
  return {
    ...state,
    balance: state.balance + s.delta,
    limitedCreditValue,
    records: records.slice(-MAX_COMMITTED_RECORDS),
  };
}
