import { type SimCard, SW, withStatus } from "./sim-card.js";

/**
 * The simplest useful card: one application that answers SELECT by AID. Enough to see a card
 * through pcscd end to end; the purse card replaces it for value work.
 */
export class SelectCard implements SimCard {
  private selected = false;
  powered = false;

  constructor(
    readonly atr: Buffer,
    private readonly aid: Buffer,
    private readonly fci: Buffer = Buffer.alloc(0),
  ) {}

  powerOn(): void {
    this.powered = true;
    this.selected = false;
  }

  powerOff(): void {
    this.powered = false;
    this.selected = false;
  }

  reset(): void {
    this.selected = false;
  }

  get isSelected(): boolean {
    return this.selected;
  }

  transmit(command: Buffer): Buffer {
    if (command.length < 4) return withStatus(Buffer.alloc(0), SW.WRONG_LENGTH);
    const cla = command[0] ?? 0;
    const ins = command[1] ?? 0;
    const p1 = command[2] ?? 0;
    if ((cla & 0xfc) !== 0x00) return withStatus(Buffer.alloc(0), SW.CLA_NOT_SUPPORTED);
    if (ins !== 0xa4) return withStatus(Buffer.alloc(0), SW.INS_NOT_SUPPORTED);
    if (p1 !== 0x04 || command.length < 5) return withStatus(Buffer.alloc(0), SW.FILE_NOT_FOUND);
    const lc = command[4] ?? 0;
    if (command.length < 5 + lc) return withStatus(Buffer.alloc(0), SW.WRONG_LENGTH);
    const aid = command.subarray(5, 5 + lc);
    if (!aid.equals(this.aid)) {
      this.selected = false;
      return withStatus(Buffer.alloc(0), SW.FILE_NOT_FOUND);
    }
    this.selected = true;
    return withStatus(this.fci, SW.OK);
  }
}
