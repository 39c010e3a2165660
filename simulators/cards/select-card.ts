import { type SimCard, SW, withStatus } from "./sim-card.js";

/**
 * "direct" answers in one response; "get-response" answers like a T=0 card: data waits behind
 * 61xx for GET RESPONSE, and a wrong Le gets 6Cxx with the right one.
 */
export type ResponseStyle = "direct" | "get-response";

const INS_SELECT = 0xa4;
const INS_GET_RESPONSE = 0xc0;
const INS_READ_BINARY = 0xb0;

/**
 * The simplest useful card: one application that answers SELECT by AID, and a 40-byte file that
 * READ BINARY returns. Enough to see a card through pcscd end to end and to exercise the host's
 * APDU exchange; the purse card does value work.
 */
export class SelectCard implements SimCard {
  private selected = false;
  private pending: Buffer | undefined;
  powered = false;
  readonly file = Buffer.from(Array.from({ length: 40 }, (_, i) => (i * 7 + 1) & 0xff));

  constructor(
    readonly atr: Buffer,
    private readonly aid: Buffer,
    private readonly style: ResponseStyle = "direct",
  ) {}

  private get fci(): Buffer {
    return Buffer.concat([Buffer.from([0x6f, this.aid.length + 2, 0x84, this.aid.length]), this.aid]);
  }

  powerOn(): void {
    this.powered = true;
    this.reset();
  }

  powerOff(): void {
    this.powered = false;
    this.reset();
  }

  reset(): void {
    this.selected = false;
    this.pending = undefined;
  }

  get isSelected(): boolean {
    return this.selected;
  }

  transmit(command: Buffer): Buffer {
    if (command.length < 4) return withStatus(Buffer.alloc(0), SW.WRONG_LENGTH);
    const cla = command[0] ?? 0;
    const ins = command[1] ?? 0;
    if ((cla & 0xfc) !== 0x00) return withStatus(Buffer.alloc(0), SW.CLA_NOT_SUPPORTED);
    const pending = this.pending;
    this.pending = undefined;
    switch (ins) {
      case INS_SELECT:
        return this.select(command);
      case INS_GET_RESPONSE:
        if (pending === undefined) return withStatus(Buffer.alloc(0), SW.CONDITIONS_NOT_SATISFIED);
        return this.answer(pending, leOf(command), true);
      case INS_READ_BINARY:
        if (!this.selected) return withStatus(Buffer.alloc(0), SW.CONDITIONS_NOT_SATISFIED);
        return this.answer(this.file, leOf(command), false);
      default:
        return withStatus(Buffer.alloc(0), SW.INS_NOT_SUPPORTED);
    }
  }

  private select(command: Buffer): Buffer {
    const p1 = command[2] ?? 0;
    if (p1 !== 0x04 || command.length < 5) return withStatus(Buffer.alloc(0), SW.FILE_NOT_FOUND);
    const lc = command[4] ?? 0;
    if (command.length < 5 + lc) return withStatus(Buffer.alloc(0), SW.WRONG_LENGTH);
    if (!command.subarray(5, 5 + lc).equals(this.aid)) {
      this.selected = false;
      return withStatus(Buffer.alloc(0), SW.FILE_NOT_FOUND);
    }
    this.selected = true;
    if (this.style === "get-response") {
      this.pending = this.fci;
      return withStatus(Buffer.alloc(0), 0x6100 | this.fci.length);
    }
    return withStatus(this.fci, SW.OK);
  }

  /** Data with 9000 when Le fits; in get-response style a wrong Le gets 6Cxx and the data stays pending. */
  private answer(data: Buffer, le: number | undefined, fromPending: boolean): Buffer {
    if (this.style === "get-response" && le !== data.length) {
      if (fromPending) this.pending = data;
      return withStatus(Buffer.alloc(0), 0x6c00 | data.length);
    }
    return withStatus(le === undefined ? data : data.subarray(0, le), SW.OK);
  }
}

/** Le of a short case-2 command (00 means 256); undefined when absent. */
function leOf(command: Buffer): number | undefined {
  if (command.length !== 5) return undefined;
  const le = command[4] ?? 0;
  return le === 0 ? 256 : le;
}
