import { EventEmitter } from "node:events";
import net from "node:net";
import type { SimCard } from "../cards/sim-card.js";

/**
 * The card side of one vpcd slot. vpcd sees a card as present while this TCP connection is open,
 * so inserting a card is connecting and pulling it is closing the connection.
 *
 * Wire: each message is a 2-byte big-endian length then the payload. A 1-byte payload from vpcd
 * is control (0x00 power off, 0x01 power on, 0x02 reset, 0x04 get ATR); anything else is a command
 * APDU answered with the response APDU.
 */
export class ViccLink extends EventEmitter<{
  apdu: [command: Buffer, response: Buffer];
  control: [code: number];
  held: [count: number];
  closed: [];
}> {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private inserting: Promise<void> | undefined;
  /** While set, command APDUs wait here unanswered: a card (or reader) that has stopped talking. */
  private stall: { released: Promise<void>; release: () => void } | undefined;
  private waiting = 0;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    super();
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  /**
   * Connects, retrying while vpcd is not yet listening (pcscd loads it asynchronously). An insert
   * asked for while one is still connecting is that same insertion: two connections to one slot
   * would leave vpcd serving one that the simulator no longer owns, and the slot's next insert
   * waiting behind it in vpcd's one-place backlog.
   */
  insert(card: SimCard, deadlineMs = 10_000): Promise<void> {
    if (this.inserting !== undefined) return this.inserting;
    this.inserting = this.connect(card, deadlineMs).finally(() => {
      this.inserting = undefined;
    });
    return this.inserting;
  }

  private async connect(card: SimCard, deadlineMs: number): Promise<void> {
    if (this.connected) throw new Error("a card is already inserted in this slot");
    const until = Date.now() + deadlineMs;
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      try {
        this.socket = await connectOnce(this.host, this.port);
        break;
      } catch (e) {
        if (Date.now() + delay > until) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    const socket = this.socket;
    socket.setNoDelay(true);
    // A card put in a slot is a fresh insertion, even if vpcd's presence poll missed the removal
    // and never powers it up again: it starts from its non-volatile state, as after power-on.
    card.powerOn();
    this.buffer = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      void this.drain(card, socket);
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => {
      if (this.socket === socket) this.socket = undefined;
      card.powerOff();
      this.emit("closed");
    });
  }

  /** Command APDUs received and not answered because the slot is stalled. */
  get held(): number {
    return this.waiting;
  }

  /**
   * Stalls the slot: command APDUs get no answer until `stalled` is false again, when each gets
   * its normal answer (power and ATR requests are still served, so a connect succeeds).
   */
  setStalled(stalled: boolean): void {
    if (stalled && this.stall === undefined) {
      let release = (): void => {};
      const released = new Promise<void>((r) => {
        release = r;
      });
      this.stall = { released, release };
    } else if (!stalled && this.stall !== undefined) {
      const { release } = this.stall;
      this.stall = undefined;
      release();
    }
  }

  /** Pulls the card: the connection drops at once, mid-APDU if one is in progress. */
  remove(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private draining = false;

  private async drain(card: SimCard, socket: net.Socket): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.buffer.length >= 2) {
        const len = this.buffer.readUInt16BE(0);
        if (this.buffer.length < 2 + len) break;
        const payload = this.buffer.subarray(2, 2 + len);
        this.buffer = this.buffer.subarray(2 + len);
        const reply = await this.answer(card, payload);
        if (reply !== undefined && reply.length === 0) {
          // A card that does not answer is gone: vpcd is told by the connection closing, never by
          // an empty frame, which it would wait on.
          socket.destroy();
          return;
        }
        if (reply !== undefined && !socket.destroyed) socket.write(frame(reply));
      }
    } finally {
      this.draining = false;
    }
  }

  private async answer(card: SimCard, payload: Buffer): Promise<Buffer | undefined> {
    if (payload.length === 1) {
      const code = payload[0] ?? 0;
      this.emit("control", code);
      switch (code) {
        case 0x00:
          card.powerOff();
          return undefined;
        case 0x01:
          card.powerOn();
          return undefined;
        case 0x02:
          card.reset();
          return undefined;
        case 0x04:
          return card.atr;
        default:
          return undefined;
      }
    }
    const stall = this.stall;
    if (stall !== undefined) {
      this.waiting++;
      this.emit("held", this.waiting);
      await stall.released;
      this.waiting--;
    }
    const response = await card.transmit(Buffer.from(payload));
    this.emit("apdu", Buffer.from(payload), response);
    return response;
  }
}

function frame(payload: Buffer): Buffer {
  const out = Buffer.alloc(2 + payload.length);
  out.writeUInt16BE(payload.length, 0);
  payload.copy(out, 2);
  return out;
}

function connectOnce(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (e) => {
      s.destroy();
      reject(e);
    });
  });
}
