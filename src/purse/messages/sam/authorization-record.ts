import { checkAmount, checkCurrency, messageError, type Struct, struct } from "../fields.js";

/** Where an authorization stands in the SAM's ledger. */
export type AuthorizationStatus = "issued" | "applied" | "reversed";
const STATUS_BYTE: Record<AuthorizationStatus, number> = { issued: 0x01, applied: 0x02, reversed: 0x03 };

/** One authorization as the SAM's READ AUTHORIZATION and REPORT FOR REVERSAL return it. */
export interface AuthorizationRecord {
  authorizationId: number;
  status: AuthorizationStatus;
  cardId: Buffer;
  counter: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
  s2: Buffer;
}

const RECORD = struct({
  authorizationId: "u32",
  status: "u8",
  cardId: "bytes8",
  counter: "u32",
  amount: "u32",
  currency: "bcd2",
  terminalId: "bytes8",
  s2: "bytes8",
});
export const AUTHORIZATION_RECORD_LENGTH = RECORD.length;

export function serializeAuthorizationRecord(r: AuthorizationRecord): Buffer {
  return RECORD.encode({ ...r, status: STATUS_BYTE[r.status] });
}

export function parseAuthorizationRecord(data: Buffer, what: string): AuthorizationRecord {
  const r: typeof RECORD extends Struct<infer T> ? T : never = RECORD.decode(data, what);
  const status = (Object.keys(STATUS_BYTE) as AuthorizationStatus[]).find((s) => STATUS_BYTE[s] === r.status);
  if (status === undefined) {
    throw messageError(`${what}: unknown authorization status ${r.status}`, "value", {
      message: what,
      field: "status",
    });
  }
  checkAmount(r.amount, what);
  checkCurrency(r.currency, what);
  return { ...r, status };
}
