/**
 * Wire constants of the meter serial protocol (docs/meter-protocol.md). STX never appears inside a
 * frame: every STX or DLE byte after the start marker is sent as DLE, byte ^ 0x20.
 */
export const STX = 0x02;
export const DLE = 0x10;
export const ESCAPE_XOR = 0x20;

/** Largest payload a frame may carry; a length byte above it is rejected on sight. */
export const MAX_PAYLOAD = 200;
/** LEN, SEQ, TYPE before the payload; CRC-16 after it. */
export const HEADER_BYTES = 3;
export const CRC_BYTES = 2;
/** Worst case on the wire: STX plus every other byte escaped. */
export const MAX_WIRE_FRAME = 1 + 2 * (HEADER_BYTES + MAX_PAYLOAD + CRC_BYTES);

/** Sequence 0 is never used for a request; a NAK with sequence 0 NAKs a frame whose header was unreadable. */
export const SEQ_UNKNOWN = 0;

export const FrameType = {
  ACK: 0x40,
  NAK: 0x41,
} as const;

/** Request command codes; the response to command C has frame type C | 0x80. */
export const Command = {
  PING: 0x01,
  GET_STATUS: 0x02,
  GET_REGISTERS: 0x03,
  PRINT_INDICIUM: 0x04,
  REFILL: 0x05,
  GET_LAST_TRANSACTION: 0x06,
  CLEAR_BATCH: 0x07,
} as const;
export type Command = (typeof Command)[keyof typeof Command];
export const RESPONSE_BIT = 0x80;

const COMMANDS = new Set<number>(Object.values(Command));

export function isCommand(type: number): type is Command {
  return COMMANDS.has(type);
}

export function responseType(command: Command): number {
  return command | RESPONSE_BIT;
}

/** Every frame type a receiver accepts: ACK, NAK, the requests and their responses. */
export function isKnownFrameType(type: number): boolean {
  return (
    type === FrameType.ACK ||
    type === FrameType.NAK ||
    isCommand(type) ||
    ((type & RESPONSE_BIT) !== 0 && isCommand(type & ~RESPONSE_BIT))
  );
}

/** Why a NAK was sent; carried in its one-byte payload. */
export const NakReason = {
  CRC: 0x01,
  LENGTH: 0x02,
  ESCAPE: 0x03,
  TYPE: 0x04,
} as const;
export type NakReason = (typeof NakReason)[keyof typeof NakReason];

/** First payload byte of every response. Only OK carries a body. */
export const ResultCode = {
  OK: 0x00,
  LOCKED: 0x01,
  INSUFFICIENT_FUNDS: 0x02,
  BAD_AUTHORIZATION: 0x03,
  BAD_REQUEST: 0x04,
  TXN_CONFLICT: 0x05,
  REFILL_PENDING: 0x06,
  /** A REFILL authorized for another control total than the meter's: applied already, or stale. */
  CONTROL_TOTAL_MISMATCH: 0x07,
} as const;
export type ResultCode = (typeof ResultCode)[keyof typeof ResultCode];

/** Money bounds, in minor units. */
export const MAX_PRINT_AMOUNT = 9_999_999;
export const MAX_REFILL_AMOUNT = 100_000_000;
/** Registers are 6-byte unsigned on the wire; all values stay exact in a JS number. */
export const MAX_REGISTER = 2 ** 48 - 1;
export const MAX_COUNT = 2 ** 32 - 1;
export const TXN_ID_BYTES = 16;
export const INDICIUM_MAC_BYTES = 8;
export const AUTHORIZATION_BYTES = 16;
export const MAX_TEXT = 16;
