import { TermhostError } from "../../errors/errors.js";

/** DESFire native status codes (SW2 after 91), by the names the datasheets use. */
export const DesfireStatus = {
  OPERATION_OK: 0x00,
  NO_CHANGES: 0x0c,
  OUT_OF_EEPROM: 0x0e,
  ILLEGAL_COMMAND: 0x1c,
  INTEGRITY_ERROR: 0x1e,
  NO_SUCH_KEY: 0x40,
  LENGTH_ERROR: 0x7e,
  PERMISSION_DENIED: 0x9d,
  PARAMETER_ERROR: 0x9e,
  APPLICATION_NOT_FOUND: 0xa0,
  ADDITIONAL_FRAME: 0xaf,
  AUTHENTICATION_ERROR: 0xae,
  BOUNDARY_ERROR: 0xbe,
  COMMAND_ABORTED: 0xca,
  COUNT_ERROR: 0xce,
  DUPLICATE_ERROR: 0xde,
  EEPROM_ERROR: 0xee,
  FILE_NOT_FOUND: 0xf0,
  FILE_INTEGRITY_ERROR: 0xf1,
} as const;
export type DesfireStatusName = keyof typeof DesfireStatus;

const NAMES = new Map<number, DesfireStatusName>(
  Object.entries(DesfireStatus).map(([name, code]) => [code, name as DesfireStatusName]),
);

/** The status's name, or `UNKNOWN_xx` for a code no DESFire datasheet lists. */
export function desfireStatusName(sw2: number): string {
  return NAMES.get(sw2) ?? `UNKNOWN_${sw2.toString(16).padStart(2, "0").toUpperCase()}`;
}

const HINTS: Partial<Record<DesfireStatusName, string>> = {
  PERMISSION_DENIED: "the authenticated key lacks the access right for this file operation",
  BOUNDARY_ERROR: "the value would leave the file's limits (upper limit on credit, lower on debit)",
  AUTHENTICATION_ERROR: "authenticate first, with the key the file's access rights name",
  INTEGRITY_ERROR: "the card rejected the command's MAC or CRC; the session is over: re-authenticate",
  APPLICATION_NOT_FOUND: "this card has no termhost application: it is not one of ours",
  FILE_NOT_FOUND: "the application lacks the file the layout expects: the card was not issued by termhost",
  COMMAND_ABORTED: "the previous command chain was aborted; start the transaction again",
};

/** The typed error for a DESFire status other than 00 / AF answered to `command`. */
export function desfireStatusError(command: number, sw2: number): TermhostError {
  const status = desfireStatusName(sw2);
  const hint = HINTS[status as DesfireStatusName] ?? "see docs/desfire.md for the status codes";
  return new TermhostError(
    "DESFIRE_STATUS",
    `DESFire command ${hex2(command)} answered ${status} (91 ${hex2(sw2)})`,
    { hint, context: { command: hex2(command), status, sw2: hex2(sw2) } },
  );
}

export function hex2(n: number): string {
  return n.toString(16).padStart(2, "0").toUpperCase();
}
