export { type CommandSpec, Commands, commandName } from "./commands.js";
export * from "./constants.js";
export { crc16 } from "./crc16.js";
export {
  begin,
  type ExchangeConfig,
  type ExchangeEffect,
  type ExchangeEvent,
  type ExchangeState,
  type FailureReason,
  step,
} from "./exchange-machine.js";
export { encodeFrame, frameBody, type RawFrame } from "./frame.js";
export { AckCodec, NakCodec, nakReasonFor } from "./messages/ack.js";
export type { Codec } from "./messages/common.js";
export { LastTransaction, LastTransactionCodec } from "./messages/last-transaction.js";
export { EmptyCodec, Ping, PingCodec } from "./messages/ping.js";
export {
  Indicium,
  IndiciumCodec,
  indiciumMacInput,
  PrintRequest,
  PrintRequestCodec,
} from "./messages/print.js";
export {
  RefillRequest,
  RefillRequestCodec,
  type RefillTerms,
  refillAuthorizationInput,
} from "./messages/refill.js";
export { Registers, RegistersCodec } from "./messages/registers.js";
export { okBody, okPayload, refusalError, refusalPayload } from "./messages/result.js";
export { MeterStatus, MeterStatusCodec } from "./messages/status.js";
export { type DropReason, FrameReceiver, type ReceiverEvent, type ReceiverOptions } from "./receiver.js";
export { wireTimeMs } from "./timing.js";
