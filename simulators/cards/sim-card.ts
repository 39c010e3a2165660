/**
 * A simulated ICC as the vicc link sees it. Power and reset reach the card as they would on a
 * real contact; `transmit` gets one command APDU and returns the response APDU.
 */
export interface SimCard {
  readonly atr: Buffer;
  powerOn(): void;
  powerOff(): void;
  reset(): void;
  transmit(command: Buffer): Buffer | Promise<Buffer>;
}

export const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  FILE_NOT_FOUND: 0x6a82,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
} as const;

export function withStatus(data: Buffer, sw: number): Buffer {
  const out = Buffer.alloc(data.length + 2);
  data.copy(out);
  out.writeUInt16BE(sw, data.length);
  return out;
}
