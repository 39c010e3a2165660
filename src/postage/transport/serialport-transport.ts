import { SerialPort } from "serialport";
import { TermhostError } from "../../errors/errors.js";
import type { MeterTransport, TransportHandlers } from "./transport.js";

export interface SerialPortTransportOptions {
  path: string;
  baudRate: number;
}

/** MeterTransport over node-serialport: 8N1, no flow control. */
export class SerialPortTransport implements MeterTransport {
  private port: SerialPort | undefined;
  private handlers: TransportHandlers | undefined;

  constructor(private readonly options: SerialPortTransportOptions) {}

  get description(): string {
    return this.options.path;
  }

  get isOpen(): boolean {
    return this.port?.isOpen === true;
  }

  async open(handlers: TransportHandlers): Promise<void> {
    if (this.port !== undefined) throw new Error("transport already open");
    const port = new SerialPort({
      path: this.options.path,
      baudRate: this.options.baudRate,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) =>
      port.open((e) => (e ? reject(disconnected(this.options.path, "cannot open", e)) : resolve())),
    );
    this.port = port;
    this.handlers = handlers;
    port.on("data", (chunk: Buffer) => {
      if (this.port === port) handlers.data(chunk);
    });
    port.on("error", (e) => this.lost(port, e));
    // serialport reports an unplugged device as a close with `disconnected: true`, at best.
    port.on("close", (e: (Error & { disconnected?: boolean }) | null) => this.lost(port, e ?? undefined));
  }

  write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (port === undefined || !port.isOpen)
      return Promise.reject(disconnected(this.options.path, "port is not open", undefined));
    return new Promise((resolve, reject) => {
      port.write(Buffer.from(bytes), (e) => {
        if (e) {
          const err = disconnected(this.options.path, "write failed", e);
          this.lost(port, e);
          reject(err);
          return;
        }
        port.drain((d) => (d ? reject(disconnected(this.options.path, "drain failed", d)) : resolve()));
      });
    });
  }

  async close(): Promise<void> {
    const port = this.port;
    const handlers = this.handlers;
    this.port = undefined;
    this.handlers = undefined;
    if (port === undefined) return;
    port.removeAllListeners("data");
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    port.removeAllListeners();
    handlers?.closed(undefined);
  }

  private lost(port: SerialPort, cause: Error | undefined): void {
    if (this.port !== port) return;
    const handlers = this.handlers;
    this.port = undefined;
    this.handlers = undefined;
    port.removeAllListeners("data");
    if (port.isOpen) port.close(() => undefined);
    handlers?.closed(disconnected(this.options.path, "line lost", cause));
  }
}

function disconnected(path: string, what: string, cause: unknown): TermhostError {
  return new TermhostError("METER_DISCONNECTED", `meter port ${path}: ${what}`, {
    context: { path },
    ...(cause === undefined ? {} : { cause }),
  });
}
