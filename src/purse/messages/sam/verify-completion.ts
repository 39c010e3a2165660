import type { CommandApdu } from "../../../pcsc/apdu/command.js";
import { checkBalance, dataOf, expectNoParameters, purseCommand, type Struct, struct } from "../fields.js";

/**
 * VERIFY COMPLETION: S3 of a credit (from the CREDIT answer or from READ LAST TRANSACTION) for
 * an authorization the SAM issued. On success the SAM marks the authorization applied. No response data.
 */
export const INS_VERIFY_COMPLETION = 0xa4;
const WHAT = "VERIFY COMPLETION";

export interface VerifyCompletionCommand {
  authorizationId: number;
  balanceAfter: number;
  s3: Buffer;
}

const COMMAND: Struct<VerifyCompletionCommand> = struct({
  authorizationId: "u32",
  balanceAfter: "u32",
  s3: "bytes8",
});

export function buildVerifyCompletion(c: VerifyCompletionCommand): CommandApdu {
  return purseCommand(INS_VERIFY_COMPLETION, COMMAND.encode(c), false);
}

export function parseVerifyCompletionCommand(cmd: CommandApdu): VerifyCompletionCommand {
  expectNoParameters(cmd, WHAT);
  const c = COMMAND.decode(dataOf(cmd), WHAT);
  checkBalance(c.balanceAfter, WHAT, "balanceAfter");
  return c;
}
