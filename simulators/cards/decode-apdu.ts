import { type CommandApdu, parseCommand } from "../../src/pcsc/apdu/command.js";
import { fieldProblemOf, PurseSW } from "../../src/purse/messages/index.js";

/**
 * The card side of every purse-family application: decode the APDU, run `dispatch`, and answer a
 * command the shared codec cannot decode with the status word a card gives for it.
 */
export function decodeAndDispatch<T>(
  apdu: Buffer,
  dispatch: (cmd: CommandApdu) => T,
  reply: (sw: number) => T,
): T {
  let cmd: CommandApdu;
  try {
    cmd = parseCommand(apdu);
  } catch {
    return reply(PurseSW.WRONG_LENGTH);
  }
  try {
    return dispatch(cmd);
  } catch (e) {
    switch (fieldProblemOf(e)) {
      case "length":
        return reply(PurseSW.WRONG_LENGTH);
      case "value":
        return reply(PurseSW.DATA_INVALID);
      case "p1p2":
        return reply(PurseSW.P1P2_INVALID);
      default:
        throw e;
    }
  }
}
