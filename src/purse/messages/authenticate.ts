import type { CommandApdu } from "../../pcsc/apdu/command.js";
import { dataOf, expectNoParameters, purseCommand, type Struct, struct } from "./fields.js";

/** AUTHENTICATE: the card proves it holds its diversified key by a MAC over both challenges. */
export const INS_AUTHENTICATE = 0x88;
const WHAT = "AUTHENTICATE";

export interface AuthenticateCommand {
  /** Fresh challenge chosen by the verifier (the SAM's GET CHALLENGE). */
  terminalChallenge: Buffer;
}

export interface AuthenticateResponse {
  cardId: Buffer;
  /** The card's transaction counter: the number its next value transaction will carry. */
  counter: number;
  cardChallenge: Buffer;
  /** CMAC(K_card, 01 || cardId || counter || terminalChallenge || cardChallenge), leftmost 8 bytes. */
  mac: Buffer;
}

const COMMAND: Struct<AuthenticateCommand> = struct({ terminalChallenge: "bytes8" });
export const AUTHENTICATE_RESPONSE: Struct<AuthenticateResponse> = struct({
  cardId: "bytes8",
  counter: "u32",
  cardChallenge: "bytes8",
  mac: "bytes8",
});

export function buildAuthenticate(c: AuthenticateCommand): CommandApdu {
  return purseCommand(INS_AUTHENTICATE, COMMAND.encode(c), true);
}

export function parseAuthenticateCommand(cmd: CommandApdu): AuthenticateCommand {
  expectNoParameters(cmd, WHAT);
  return COMMAND.decode(dataOf(cmd), WHAT);
}

export function serializeAuthenticateResponse(r: AuthenticateResponse): Buffer {
  return AUTHENTICATE_RESPONSE.encode(r);
}

export function parseAuthenticateResponse(data: Buffer): AuthenticateResponse {
  return AUTHENTICATE_RESPONSE.decode(data, `${WHAT} response`);
}
