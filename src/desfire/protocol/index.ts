export {
  type AuthMode,
  cardChallenge,
  cardVerifyHost,
  type DesfireKeyHolder,
  type DesfireSessionKeys,
  keyHolderAnswer,
  keyHolderFinish,
  type PendingAuthentication,
} from "./auth-crypto.js";
export * from "./crypto.js";
export * from "./file-settings.js";
export { exchangeNative, MAX_FRAME_DATA, parseNativeReply, type Transmit, wrapNative } from "./framing.js";
export { desfireCardKey, desfireMasterKey, SIMULATOR_DESFIRE_MASTER_KEYS_HEX } from "./keys.js";
export * from "./layout.js";
export { localKeyHolder } from "./local-key-holder.js";
export { decodeLogRecord, encodeLogRecord, LogKind, type LogKindName, LogRecord } from "./log-record.js";
export { fixedRandom, type RandomSource, secureRandom, seededRandom } from "./random.js";
export {
  type CommMode,
  MAC_LENGTH,
  notAuthentic,
  type Protection,
  protectCommand,
  type SecureState,
  unprotectReply,
} from "./secure-messaging.js";
export { type DesfireAuthMode, DesfireSession } from "./session.js";
export { DesfireStatus, type DesfireStatusName, desfireStatusError, desfireStatusName } from "./status.js";
