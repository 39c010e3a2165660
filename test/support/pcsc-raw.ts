import { createRequire } from "node:module";

/**
 * Plain pcsclite, without any of the daemon's code: the yardstick the daemon's PC/SC path is
 * measured against, and an independent witness of what pcscd reports.
 */
interface RawReader {
  name: string;
  SCARD_SHARE_SHARED: number;
  SCARD_LEAVE_CARD: number;
  on(e: "status", fn: (s: { state: number; atr?: Buffer }) => void): void;
  on(e: "error", fn: (err: Error) => void): void;
  connect(opts: { share_mode: number }, cb: (err: Error | null, protocol: number) => void): void;
  transmit(
    data: Buffer,
    resLen: number,
    protocol: number,
    cb: (err: Error | null, data: Buffer) => void,
  ): void;
  disconnect(disposition: number, cb: (err: Error | null) => void): void;
  close(): void;
}
interface RawPcsc {
  on(e: "reader", fn: (r: RawReader) => void): void;
  on(e: "error", fn: (err: Error) => void): void;
  close(): void;
}

const require = createRequire(import.meta.url);

export async function withRawCard<T>(
  pcscSocket: string,
  readerName: string,
  fn: (transmit: (apdu: Buffer) => Promise<Buffer>) => Promise<T>,
): Promise<T> {
  process.env.PCSCLITE_CSOCK_NAME = pcscSocket;
  const pcsc = (require("pcsclite") as () => RawPcsc)();
  try {
    const reader = await new Promise<RawReader>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`reader ${readerName} not seen`)), 10_000);
      pcsc.on("error", reject);
      pcsc.on("reader", (r) => {
        // pcscd going away at the end of a test is not this helper's concern
        r.on("error", () => {});
        if (r.name !== readerName) return;
        r.on("status", (s) => {
          if (s.state & 0x20) {
            clearTimeout(timer);
            resolve(r);
          }
        });
      });
    });
    const protocol = await new Promise<number>((resolve, reject) =>
      reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err, p) => (err ? reject(err) : resolve(p))),
    );
    const transmit = (apdu: Buffer): Promise<Buffer> =>
      new Promise((resolve, reject) =>
        reader.transmit(apdu, 258, protocol, (err, data) => (err ? reject(err) : resolve(data))),
      );
    try {
      return await fn(transmit);
    } finally {
      await new Promise<void>((resolve) => reader.disconnect(reader.SCARD_LEAVE_CARD, () => resolve()));
    }
  } finally {
    pcsc.close();
  }
}
