import type { CommandApdu } from "../../../pcsc/apdu/command.js";
import { ID_LENGTH, messageError } from "../fields.js";

/** GET CHALLENGE (ISO 7816-4): the SAM's fresh challenge for the card's AUTHENTICATE. */
export const INS_GET_CHALLENGE = 0x84;
const WHAT = "GET CHALLENGE";

export function buildGetChallenge(): CommandApdu {
  return { cla: 0x00, ins: INS_GET_CHALLENGE, p1: 0x00, p2: 0x00, le: ID_LENGTH };
}

export function parseGetChallengeCommand(cmd: CommandApdu): void {
  if (cmd.p1 !== 0 || cmd.p2 !== 0) {
    throw messageError(`${WHAT}: P1-P2 must be 0000`, "p1p2", { message: WHAT });
  }
  if ((cmd.data?.length ?? 0) !== 0 || cmd.le !== ID_LENGTH) {
    throw messageError(`${WHAT}: expected no data and Le = 08`, "length", { message: WHAT });
  }
}

export function serializeGetChallengeResponse(challenge: Buffer): Buffer {
  return Buffer.from(challenge);
}

export function parseGetChallengeResponse(data: Buffer): Buffer {
  if (data.length !== ID_LENGTH) {
    throw messageError(`${WHAT} response: expected ${ID_LENGTH} bytes, got ${data.length}`, "length", {
      message: WHAT,
      got: data.length,
    });
  }
  return Buffer.from(data);
}
