import type { CommandApdu } from "../../../pcsc/apdu/command.js";
import { AUTHENTICATE_RESPONSE, type AuthenticateResponse } from "../authenticate.js";
import { dataOf, expectNoParameters, purseCommand } from "../fields.js";

/** VERIFY CARD AUTHENTICATION: the card's AUTHENTICATE answer, forwarded unchanged. No response data. */
export const INS_VERIFY_AUTHENTICATION = 0xa0;
const WHAT = "VERIFY CARD AUTHENTICATION";

export function buildVerifyAuthentication(card: AuthenticateResponse): CommandApdu {
  return purseCommand(INS_VERIFY_AUTHENTICATION, AUTHENTICATE_RESPONSE.encode(card), false);
}

export function parseVerifyAuthenticationCommand(cmd: CommandApdu): AuthenticateResponse {
  expectNoParameters(cmd, WHAT);
  return AUTHENTICATE_RESPONSE.decode(dataOf(cmd), WHAT);
}
