import type { TermhostError } from "../../errors/errors.js";

export interface TransportHandlers {
  /** Bytes as they arrive, in order; chunk boundaries mean nothing. */
  data(chunk: Buffer): void;
  /**
   * Called once per successful open, when the line is gone: closed by `close()` (error undefined)
   * or lost (METER_DISCONNECTED: device vanished, write failed, read error).
   */
  closed(error: TermhostError | undefined): void;
}

/**
 * A byte pipe to one meter: the serial port in production, anything else in tests. Engines see
 * only this; nothing above it imports `serialport`.
 *
 * Disconnect rules. A USB-serial adapter that is pulled out often gives no sign until a write
 * fails, so a transport cannot be trusted to notice on its own: the link above sends a heartbeat.
 * When the line is lost, a pending `write` rejects with METER_DISCONNECTED and `closed` fires with
 * that error; there is no automatic reopen here. An exchange in flight on the link then fails with
 * METER_DISCONNECTED (or METER_TIMEOUT if the line went silent without closing), and the request
 * may or may not have reached the meter: a caller resolves a value-moving command by asking GET
 * LAST TRANSACTION or by resending it with the same transaction id, never with a new one.
 */
export interface MeterTransport {
  /** Rejects with METER_DISCONNECTED when the device cannot be opened. */
  open(handlers: TransportHandlers): Promise<void>;
  /** Resolves once the bytes are handed to the OS; rejects with METER_DISCONNECTED. */
  write(bytes: Uint8Array): Promise<void>;
  /** Idempotent; resolves when the device is released. */
  close(): Promise<void>;
  readonly isOpen: boolean;
  /** For logs: the device path or a name. */
  readonly description: string;
}
