import type { CommandApdu, MaskDecision } from "../../pcsc/apdu/index.js";

/** ISO 7816-4 commands whose data is a PIN or other reference data (interindustry classes). */
const ISO_SECRET_COMMAND_DATA = new Set([0x20, 0x21, 0x24, 0x26, 0x28, 0x2c]);
/** Purse CREDIT carries the authorization S2: a one-time bearer credential until the card applies it. */
const PROPRIETARY_SECRET_COMMAND_DATA = new Set([0x52]);
/** SAM ISSUE AUTHORIZATION answers with S2. */
const PROPRIETARY_SECRET_RESPONSE_DATA = new Set([0xa2]);

/**
 * What a technician's raw APDU trace hides. Raw APDUs end up in tickets and logs, so PINs and
 * authorizations are shown by length only, whoever sent them.
 */
export function adminMask(command: CommandApdu): MaskDecision {
  const proprietary = command.cla >= 0x80;
  const commandData =
    command.sensitive === true ||
    (proprietary
      ? PROPRIETARY_SECRET_COMMAND_DATA.has(command.ins)
      : ISO_SECRET_COMMAND_DATA.has(command.ins));
  const responseData = proprietary && PROPRIETARY_SECRET_RESPONSE_DATA.has(command.ins);
  return { commandData, responseData };
}
