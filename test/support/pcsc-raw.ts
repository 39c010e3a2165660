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
  removeAllListeners(): void;
}
interface RawPcsc {
  on(e: "reader", fn: (r: RawReader) => void): void;
  on(e: "error", fn: (err: Error) => void): void;
  removeAllListeners(): void;
}

const require = createRequire(import.meta.url);

export type RawTransmit = (apdu: Buffer) => Promise<Buffer>;

export function withRawCard<T>(
  pcscSocket: string,
  readerName: string,
  fn: (transmit: RawTransmit) => Promise<T>,
): Promise<T> {
  return withRawCards(pcscSocket, [readerName], ([transmit]) => fn(transmit as RawTransmit));
}

/**
 * Connects to the cards of several readers of one pcscd at once (e.g. a purse and a SAM) and
 * passes one transmit per reader, in the order of `readerNames`.
 */
export async function withRawCards<T>(
  pcscSocket: string,
  readerNames: string[],
  fn: (transmits: RawTransmit[]) => Promise<T>,
): Promise<T> {
  process.env.PCSCLITE_CSOCK_NAME = pcscSocket;
  const pcsc = (require("pcsclite") as () => RawPcsc)();
  const seen: RawReader[] = [];
  const connected: RawReader[] = [];
  try {
    const readers = await new Promise<RawReader[]>((resolve, reject) => {
      const found = new Map<string, RawReader>();
      const timer = setTimeout(
        () => reject(new Error(`readers ${readerNames.filter((n) => !found.has(n)).join(", ")} not seen`)),
        10_000,
      );
      pcsc.on("error", reject);
      pcsc.on("reader", (r) => {
        // pcscd going away at the end of a test is not this helper's concern
        r.on("error", () => {});
        seen.push(r);
        if (!readerNames.includes(r.name)) return;
        r.on("status", (s) => {
          if (!(s.state & 0x20) || found.has(r.name)) return;
          found.set(r.name, r);
          if (found.size === readerNames.length) {
            clearTimeout(timer);
            resolve(readerNames.map((n) => found.get(n) as RawReader));
          }
        });
      });
    });
    const transmits: RawTransmit[] = [];
    for (const reader of readers) {
      const protocol = await new Promise<number>((resolve, reject) =>
        reader.connect({ share_mode: reader.SCARD_SHARE_SHARED }, (err, p) =>
          err ? reject(err) : resolve(p),
        ),
      );
      connected.push(reader);
      transmits.push(
        (apdu) =>
          new Promise((resolve, reject) =>
            reader.transmit(apdu, 258, protocol, (err, data) => (err ? reject(err) : resolve(data))),
          ),
      );
    }
    return await fn(transmits);
  } finally {
    for (const reader of connected) {
      await new Promise<void>((resolve) => reader.disconnect(reader.SCARD_LEAVE_CARD, () => resolve()));
    }
    // Never close(): the binding's close() joins a thread that can miss its SCardCancel and then
    // blocks this whole process for good. The context is dropped instead, as the daemon does; the
    // process exit (or pcscd's) releases it.
    for (const emitter of [pcsc, ...seen]) {
      emitter.removeAllListeners();
      emitter.on("error", () => {});
    }
  }
}
