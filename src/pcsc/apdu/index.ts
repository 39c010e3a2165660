export type { ApduCase, CommandApdu } from "./command.js";
export {
  commandCase,
  isExtended,
  MAX_EXTENDED_LC,
  MAX_EXTENDED_LE,
  MAX_SHORT_LC,
  MAX_SHORT_LE,
  parseCommand,
  serializeCommand,
} from "./command.js";
export type { ExchangeOptions, Transmit } from "./exchange.js";
export { DEFAULT_MAX_GET_RESPONSE, exchange } from "./exchange.js";
export { toHex, toSpacedHex, tryParseHex } from "./hex.js";
export type { ScriptedTransmit } from "./replay.js";
export { scriptedTransmit } from "./replay.js";
export type { ResponseApdu } from "./response.js";
export { MAX_RESPONSE_LENGTH, parseResponse, serializeResponse, sw1Of, sw2Of } from "./response.js";
export type { StatusKind } from "./status.js";
export { describeStatus, statusError, statusKind, statusWordOf } from "./status.js";
export type { MaskDecision, MaskHook } from "./trace.js";
export { formatCommandTrace, formatResponseTrace, maskSensitive } from "./trace.js";
