import { createRequire } from "node:module";

/** The parts of the `pcsclite` addon we use, typed; nothing outside src/pcsc imports it. */
export interface NativeReader {
  readonly name: string;
  readonly connected: boolean;
  readonly SCARD_SHARE_SHARED: number;
  readonly SCARD_SHARE_EXCLUSIVE: number;
  readonly SCARD_LEAVE_CARD: number;
  readonly SCARD_RESET_CARD: number;
  connect(options: { share_mode: number }, cb: (err: Error | null, protocol: number) => void): void;
  transmit(
    data: Buffer,
    resLen: number,
    protocol: number,
    cb: (err: Error | null, data: Buffer) => void,
  ): void;
  disconnect(disposition: number, cb: (err: Error | null) => void): void;
  on(event: "status", fn: (status: { state: number; atr?: Buffer }) => void): this;
  on(event: "error", fn: (err: Error) => void): this;
  on(event: "end", fn: () => void): this;
  removeAllListeners(): this;
  close(): void;
}

export interface NativePcsc {
  on(event: "reader", fn: (reader: NativeReader) => void): this;
  on(event: "error", fn: (err: Error) => void): this;
  removeAllListeners(): this;
  close(): void;
}

const require = createRequire(import.meta.url);
let factory: (() => NativePcsc) | undefined;

/**
 * A fresh PC/SC context. Throws when pcscd is not reachable; the addon keeps no usable state after
 * pcscd restarts, so recovery always goes through a new instance.
 */
export function openNativePcsc(): NativePcsc {
  factory ??= require("pcsclite") as () => NativePcsc;
  return factory();
}

/** SCARD_STATE_* bits of the reader state word. */
export const ReaderStateBit = {
  UNAVAILABLE: 0x0008,
  EMPTY: 0x0010,
  PRESENT: 0x0020,
  EXCLUSIVE: 0x0080,
  INUSE: 0x0100,
  MUTE: 0x0200,
} as const;
