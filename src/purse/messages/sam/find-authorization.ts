import type { CommandApdu } from "../../../pcsc/apdu/command.js";
import { dataOf, expectNoParameters, purseCommand, type Struct, struct } from "../fields.js";
import { type AuthorizationRecord, parseAuthorizationRecord } from "./authorization-record.js";

/**
 * FIND AUTHORIZATION: the latest authorization the SAM issued for a card at a counter. A terminal
 * that crashed between asking for an authorization and recording its id finds it here, so it can
 * apply it or report it for reversal instead of leaving it unaccounted for.
 */
export const INS_FIND_AUTHORIZATION = 0xaa;
const WHAT = "FIND AUTHORIZATION";

export interface FindAuthorizationCommand {
  cardId: Buffer;
  counter: number;
}

const COMMAND: Struct<FindAuthorizationCommand> = struct({ cardId: "bytes8", counter: "u32" });

export function buildFindAuthorization(c: FindAuthorizationCommand): CommandApdu {
  return purseCommand(INS_FIND_AUTHORIZATION, COMMAND.encode(c), true);
}

export function parseFindAuthorizationCommand(cmd: CommandApdu): FindAuthorizationCommand {
  expectNoParameters(cmd, WHAT);
  return COMMAND.decode(dataOf(cmd), WHAT);
}

export function parseFindAuthorizationResponse(data: Buffer): AuthorizationRecord {
  return parseAuthorizationRecord(data, `${WHAT} response`);
}
