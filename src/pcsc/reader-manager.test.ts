import { EventEmitter } from "node:events";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { NativePcsc, NativeReader } from "./pcsclite-binding.js";
import { ReaderManager } from "./reader-manager.js";

class FakeReader extends EventEmitter {
  closed = false;
  constructor(readonly name: string) {
    super();
  }
  close(): void {
    this.closed = true;
  }
}

class FakePcsc extends EventEmitter {
  closed = false;
  close(): void {
    this.closed = true;
  }
}

const log = pino({ level: "silent" });
const PRESENT = 0x20 | 0x02;
const EMPTY = 0x10 | 0x02;

describe("ReaderManager", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("folds duplicate status events into one change each", () => {
    const native = new FakePcsc();
    const m = new ReaderManager({ log, open: () => native as unknown as NativePcsc });
    const inserted: string[] = [];
    const removed: string[] = [];
    m.on("card-inserted", (v) => inserted.push(v.atr ?? ""));
    m.on("card-removed", (v) => removed.push(v.name));
    m.start();
    const r = new FakeReader("R1");
    native.emit("reader", r as unknown as NativeReader);
    r.emit("status", { state: EMPTY });
    r.emit("status", { state: PRESENT, atr: Buffer.from("3b8080010101", "hex") });
    r.emit("status", { state: PRESENT | 0x100, atr: Buffer.from("3b8080010101", "hex") });
    r.emit("status", { state: PRESENT, atr: Buffer.from("3b8080010101", "hex") });
    r.emit("status", { state: EMPTY });
    r.emit("status", { state: EMPTY });
    expect(inserted).toEqual(["3B8080010101"]);
    expect(removed).toEqual(["R1"]);
    expect(m.list()).toMatchObject([{ name: "R1", card: "absent", atr: null }]);
  });

  it("reports readers gone when the service fails, retries with growing back-off, and rebuilds", () => {
    vi.useFakeTimers();
    const instances: FakePcsc[] = [];
    let failOpen = 0;
    const m = new ReaderManager({
      log,
      retryMinMs: 100,
      retryMaxMs: 400,
      open: () => {
        if (failOpen > 0) {
          failOpen--;
          throw new Error("SCardEstablishContext: no service");
        }
        const p = new FakePcsc();
        instances.push(p);
        return p as unknown as NativePcsc;
      },
    });
    const removed: string[] = [];
    m.on("reader-removed", (n) => removed.push(n));
    m.start();
    const first = instances[0] as FakePcsc;
    const reader = new FakeReader("R1");
    first.emit("reader", reader as unknown as NativeReader);
    expect(m.state).toBe("up");

    failOpen = 2;
    first.emit("error", new Error("SCardGetStatusChange: RPC transport error"));
    expect(m.state).toBe("down");
    expect(removed).toEqual(["R1"]);
    expect(first.closed).toBe(true);
    // A late error from the dead binding must not crash anything.
    expect(() => reader.emit("error", new Error("late"))).not.toThrow();
    expect(() => first.emit("error", new Error("late"))).not.toThrow();

    vi.advanceTimersByTime(100); // 1st retry fails
    expect(instances).toHaveLength(1);
    vi.advanceTimersByTime(199); // 2nd retry waits 200 ms
    expect(instances).toHaveLength(1);
    vi.advanceTimersByTime(1); // 2nd retry fails
    vi.advanceTimersByTime(400); // 3rd retry (capped) succeeds
    expect(instances).toHaveLength(2);
    (instances[1] as FakePcsc).emit("reader", new FakeReader("R1") as unknown as NativeReader);
    expect(m.state).toBe("up");
    expect(m.list().map((r) => r.name)).toEqual(["R1"]);
    m.stop();
  });

  it("stops retrying after stop()", () => {
    vi.useFakeTimers();
    let opens = 0;
    const m = new ReaderManager({
      log,
      retryMinMs: 50,
      open: () => {
        opens++;
        throw new Error("down");
      },
    });
    m.start();
    vi.advanceTimersByTime(50);
    expect(opens).toBe(2);
    m.stop();
    vi.advanceTimersByTime(10_000);
    expect(opens).toBe(2);
  });

  it("a handle whose disconnect failed (pcscd went away) is replaced, not used without a protocol", async () => {
    const native = new FakePcsc();
    const m = new ReaderManager({ log, open: () => native as unknown as NativePcsc });
    m.start();
    // The binding's own rules: connect() on a reader it calls connected skips SCardConnect and
    // reports no protocol; transmit() throws synchronously without one; a failed SCardDisconnect
    // leaves it connected.
    const r = Object.assign(new FakeReader("R1"), {
      connected: false,
      SCARD_SHARE_EXCLUSIVE: 1,
      SCARD_SHARE_SHARED: 2,
      SCARD_LEAVE_CARD: 0,
      connects: 0,
      disconnectFails: true,
      connect(_o: unknown, cb: (err: Error | null, p?: number) => void) {
        if (this.connected) return cb(null);
        this.connected = true;
        this.connects++;
        cb(null, 2);
      },
      disconnect(_d: number, cb: (err: Error | null) => void) {
        if (this.disconnectFails)
          return cb(new Error("SCardDisconnect error: Service not available.(0x8010001d)"));
        this.connected = false;
        cb(null);
      },
      transmit(_apdu: Buffer, _len: number, protocol: unknown, cb: (err: Error | null, d: Buffer) => void) {
        if (typeof protocol !== "number") throw new Error("Third argument must be an integer");
        cb(null, Buffer.from("9000", "hex"));
      },
    });
    native.emit("reader", r as unknown as NativeReader);
    r.emit("status", { state: PRESENT, atr: Buffer.from("3b8080010101", "hex") });
    const apdu = Buffer.from("00a4040000", "hex");
    await expect(m.withCard("R1", "exclusive", (c) => c.transmit(apdu))).resolves.toEqual(
      Buffer.from("9000", "hex"),
    );
    expect(r.connected).toBe(true);
    await expect(m.withCard("R1", "exclusive", (c) => c.transmit(apdu))).resolves.toEqual(
      Buffer.from("9000", "hex"),
    );
    expect(r.connects).toBe(2);
    m.stop();
  });

  it("lets a reader that hangs in a transmit hold one PC/SC call, however often it is used, and keeps others going", async () => {
    const native = new FakePcsc();
    const m = new ReaderManager({
      log,
      open: () => native as unknown as NativePcsc,
      maxNativeCalls: 2,
      transmitTimeoutMs: 30,
      connectTimeoutMs: 30,
    });
    m.start();
    const hung = new PooledReader("HUNG", true);
    const fine = [new PooledReader("R2", false), new PooledReader("R3", false)];
    for (const r of [hung, ...fine]) {
      native.emit("reader", r as unknown as NativeReader);
      r.emit("status", { state: PRESENT, atr: Buffer.from("3b8080010101", "hex") });
    }
    const apdu = Buffer.from("00a4040000", "hex");
    await expect(m.withCard("HUNG", "shared", (c) => c.transmit(apdu))).rejects.toMatchObject({
      code: "CARD_REMOVED",
    });
    // Each of these would be one more call waiting inside the binding on the reader's lock, on a
    // thread of the pool, for as long as the transmit hangs.
    for (let i = 0; i < 3; i++) {
      await expect(m.withCard("HUNG", "shared", (c) => c.transmit(apdu))).rejects.toMatchObject({
        code: "READER_UNAVAILABLE",
      });
    }
    expect(hung.pending).toBe(1);
    const answers = await Promise.all(
      fine.flatMap((r) => [1, 2].map(() => m.withCard(r.name, "shared", (c) => c.transmit(apdu)))),
    );
    expect(answers.map((a) => a.toString("hex"))).toEqual(Array(4).fill("9000"));
    expect(Math.max(...fine.map((r) => r.maxPending))).toBe(1);
    expect(m.nativeCallsInFlight).toBe(1);
    // The card answers at last: the reader's place is free and its next exchange works.
    hung.hang = false;
    hung.answerHeld();
    expect(m.nativeCallsInFlight).toBe(0);
    await expect(m.withCard("HUNG", "shared", (c) => c.transmit(apdu))).resolves.toEqual(
      Buffer.from("9000", "hex"),
    );
    expect(hung.maxPending).toBe(1);
    m.stop();
  });
});

/**
 * A reader as the binding runs it: every call takes a pool thread until it calls back, and calls
 * on one reader take its lock in turn, so a call behind a hung one waits (and holds a thread) too.
 */
class PooledReader extends EventEmitter {
  readonly SCARD_SHARE_SHARED = 2;
  readonly SCARD_SHARE_EXCLUSIVE = 1;
  readonly SCARD_LEAVE_CARD = 0;
  connected = false;
  pending = 0;
  maxPending = 0;
  private held: (() => void) | undefined;
  private readonly lock: Array<() => void> = [];

  constructor(
    readonly name: string,
    public hang: boolean,
  ) {
    super();
  }

  close(): void {}

  answerHeld(): void {
    const h = this.held;
    this.held = undefined;
    h?.();
  }

  private call(run: (done: () => void) => void): void {
    this.pending++;
    this.maxPending = Math.max(this.maxPending, this.pending);
    const go = (): void =>
      run(() => {
        this.pending--;
        this.lock.shift();
        this.lock[0]?.();
      });
    this.lock.push(go);
    if (this.lock.length === 1) setImmediate(go);
  }

  connect(_o: unknown, cb: (err: Error | null, p?: number) => void): void {
    this.call((done) => {
      this.connected = true;
      done();
      cb(null, 2);
    });
  }

  disconnect(_d: number, cb: (err: Error | null) => void): void {
    this.call((done) => {
      this.connected = false;
      done();
      cb(null);
    });
  }

  transmit(_a: Buffer, _l: number, _p: number, cb: (err: Error | null, d: Buffer) => void): void {
    this.call((done) => {
      const answer = (): void => {
        done();
        cb(null, Buffer.from("9000", "hex"));
      };
      if (this.hang) this.held = answer;
      else setImmediate(answer);
    });
  }
}
