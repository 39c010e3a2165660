import net from "node:net";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameType,
  type Hello,
  MAX_REPORT_BYTES,
} from "./socket-frames.js";
import type { DeviceInfo, ScaleEnumerator, ScaleTransport } from "./transport.js";

export interface SocketEnumeratorOptions {
  /** Unix socket paths, one per scale, where a scale process (the simulator) listens. */
  paths: readonly string[];
  /** How long a connected scale has to send its hello. */
  helloTimeoutMs?: number;
  /** Every SCALE_FRAME_INVALID, after the connection it came on was dropped. */
  onFrameError?: (error: TermhostError, path: string) => void;
}

export interface SocketLinkStats {
  invalidFrames: number;
  lastFrameError: { code: string; message: string; path: string; at: string } | null;
}

/** Reports kept while nobody reads: enough for a stall of a few seconds at ten reports a second. */
const MAX_QUEUED_REPORTS = 64;

function offline(
  path: string,
  message: string,
  extra: { closed?: boolean; cause?: unknown } = {},
): TermhostError {
  return new TermhostError("SCALE_OFFLINE", message, {
    hint: "check that the scale process serving this socket is running",
    context: { path, closed: extra.closed ?? false },
    cause: extra.cause,
  });
}

interface Waiter {
  resolve: (report: Buffer) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

/**
 * One connection to a scale process. Input reports are pushed by the scale as they happen (as a
 * HID interrupt endpoint does) and queued until read; the connection closing, from either side or
 * on a bad frame, is the unplug.
 */
class SocketScaleTransport implements ScaleTransport {
  readonly hello: Promise<Hello>;
  readonly #socket: net.Socket;
  readonly #decoder = new FrameDecoder("scale");
  readonly #queue: Buffer[] = [];
  readonly #waiters = new Set<Waiter>();
  #dead: TermhostError | undefined;
  #helloSettle: { resolve: (h: Hello) => void; reject: (e: unknown) => void } | undefined;

  constructor(
    readonly path: string,
    helloTimeoutMs: number,
    private readonly onFrameError: (e: TermhostError) => void,
  ) {
    this.hello = new Promise<Hello>((resolve, reject) => {
      this.#helloSettle = { resolve, reject };
    });
    // Callers that never ask for the hello (a transport closed early) must not see an unhandled rejection.
    this.hello.catch(() => undefined);
    const timer = setTimeout(
      () => this.#die(offline(path, `the scale on ${path} sent no hello within ${helloTimeoutMs} ms`)),
      helloTimeoutMs,
    );
    void this.hello.then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
    this.#socket = net.createConnection(path);
    this.#socket.on("data", (chunk) => this.#onData(chunk));
    this.#socket.on("error", (e) =>
      this.#die(offline(path, `scale connection failed: ${e.message}`, { cause: e })),
    );
    this.#socket.on("close", () => this.#die(offline(path, "the scale closed its connection (unplugged)")));
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (e) {
      const error = isTermhostError(e)
        ? e
        : new TermhostError("SCALE_FRAME_INVALID", String(e), { context: { reason: "decoder" } });
      this.onFrameError(error);
      this.#die(offline(this.path, `dropped the scale connection: ${error.message}`, { cause: error }));
      return;
    }
    for (const frame of frames) {
      if (frame.type === "hello") this.#helloSettle?.resolve(frame.hello);
      else this.#deliver(frame.report);
    }
  }

  #deliver(report: Buffer): void {
    const waiter = this.#waiters.values().next().value;
    if (waiter !== undefined) {
      this.#waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(report);
      return;
    }
    // A reader that fell behind wants the scale's present state, not its history.
    if (this.#queue.length >= MAX_QUEUED_REPORTS) this.#queue.shift();
    this.#queue.push(report);
  }

  #die(error: TermhostError): void {
    if (this.#dead !== undefined) return;
    this.#dead = error;
    this.#socket.destroy();
    this.#helloSettle?.reject(error);
    for (const w of this.#waiters) {
      clearTimeout(w.timer);
      w.reject(error);
    }
    this.#waiters.clear();
  }

  read(timeoutMs: number): Promise<Buffer> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.delete(waiter);
          reject(
            new TermhostError("TIMEOUT", `no report within ${timeoutMs} ms`, { context: { timeoutMs } }),
          );
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
  }

  write(report: Buffer): Promise<void> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (report.length < 1 || report.length > MAX_REPORT_BYTES) {
      return Promise.reject(
        new TermhostError("INVALID_PARAMS", `an output report has 1 to ${MAX_REPORT_BYTES} bytes`, {
          context: { length: report.length },
        }),
      );
    }
    // Reports queued before a command describe the scale before it: not evidence of what follows.
    this.#queue.length = 0;
    return new Promise((resolve, reject) => {
      this.#socket.write(encodeFrame(FrameType.output, report), (e) =>
        e ? reject(offline(this.path, `cannot write to the scale: ${e.message}`, { cause: e })) : resolve(),
      );
    });
  }

  async close(): Promise<void> {
    this.#die(offline(this.path, "scale transport is closed", { closed: true }));
  }
}

/**
 * A `ScaleEnumerator` over Unix sockets: each configured path is one scale port. A scale is
 * listed while something accepts on its path and introduces itself with a valid hello; `open`
 * connects again and checks that the same scale answers.
 */
export class SocketScaleEnumerator implements ScaleEnumerator {
  readonly #options: SocketEnumeratorOptions;
  readonly #stats: SocketLinkStats = { invalidFrames: 0, lastFrameError: null };

  constructor(options: SocketEnumeratorOptions) {
    this.#options = options;
  }

  stats(): SocketLinkStats {
    return { ...this.#stats };
  }

  async list(): Promise<DeviceInfo[]> {
    const found = await Promise.all(
      this.#options.paths.map(async (path) => {
        const link = this.#connect(path);
        try {
          return infoOf(path, await link.hello);
        } catch {
          return undefined;
        } finally {
          await link.close();
        }
      }),
    );
    return found.filter((d): d is DeviceInfo => d !== undefined);
  }

  async open(info: DeviceInfo): Promise<ScaleTransport> {
    if (!this.#options.paths.includes(info.path)) {
      throw offline(info.path, `${info.path} is not a configured scale socket`);
    }
    const link = this.#connect(info.path);
    const hello = await link.hello;
    if (hello.vendorId !== info.vendorId || hello.productId !== info.productId) {
      await link.close();
      throw offline(
        info.path,
        `another scale answers on ${info.path} (${hello.vendorId}:${hello.productId})`,
      );
    }
    return link;
  }

  #connect(path: string): SocketScaleTransport {
    return new SocketScaleTransport(path, this.#options.helloTimeoutMs ?? 1_000, (error) => {
      this.#stats.invalidFrames++;
      this.#stats.lastFrameError = {
        code: error.code,
        message: error.message,
        path,
        at: new Date().toISOString(),
      };
      this.#options.onFrameError?.(error, path);
    });
  }
}

function infoOf(path: string, hello: Hello): DeviceInfo {
  return {
    vendorId: hello.vendorId,
    productId: hello.productId,
    path,
    ...(hello.product === undefined ? {} : { product: hello.product }),
    ...(hello.serialNumber === undefined ? {} : { serialNumber: hello.serialNumber }),
  };
}
