import type { CommandApdu } from "../../../pcsc/apdu/command.js";
import { dataOf, expectNoParameters, purseCommand, type Struct, struct } from "../fields.js";
import { type AuthorizationRecord, parseAuthorizationRecord } from "./authorization-record.js";

/** REPORT FOR REVERSAL: the authorization will never be applied; the SAM marks it reversed. */
export const INS_REPORT_REVERSAL = 0xa6;
/** READ AUTHORIZATION: one ledger entry, for restore and reconciliation. */
export const INS_READ_AUTHORIZATION = 0xa8;

/** Both commands carry only the 4-byte authorization id and answer with the authorization record. */
export interface AuthorizationIdCommand {
  authorizationId: number;
}

const COMMAND: Struct<AuthorizationIdCommand> = struct({ authorizationId: "u32" });
const NAMES: Record<number, string> = {
  [INS_REPORT_REVERSAL]: "REPORT FOR REVERSAL",
  [INS_READ_AUTHORIZATION]: "READ AUTHORIZATION",
};
type Ins = typeof INS_REPORT_REVERSAL | typeof INS_READ_AUTHORIZATION;

export function buildReportReversal(c: AuthorizationIdCommand): CommandApdu {
  return purseCommand(INS_REPORT_REVERSAL, COMMAND.encode(c), true);
}

export function buildReadAuthorization(c: AuthorizationIdCommand): CommandApdu {
  return purseCommand(INS_READ_AUTHORIZATION, COMMAND.encode(c), true);
}

export function parseAuthorizationIdCommand(cmd: CommandApdu, ins: Ins): AuthorizationIdCommand {
  const what = NAMES[ins] ?? "SAM command";
  expectNoParameters(cmd, what);
  return COMMAND.decode(dataOf(cmd), what);
}

export function parseAuthorizationResponse(data: Buffer, ins: Ins): AuthorizationRecord {
  return parseAuthorizationRecord(data, `${NAMES[ins] ?? "SAM"} response`);
}
