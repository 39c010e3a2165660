import { toHex } from "../../src/pcsc/apdu/hex.js";

const CONTROL_NAMES: Record<number, string> = {
  0: "power off",
  1: "power on",
  2: "reset",
  4: "ATR requested",
};

/**
 * The APDU exchanges one card saw, as the text fixture `scriptedTransmit` replays: `=> ` command
 * hex, `<= ` response hex, and `#` lines for what is not an exchange (power, reset, the card going
 * away), so a fixture reads as the session it came from.
 */
export class ApduRecorder {
  private readonly lines: string[];
  private count = 0;

  constructor(title: string) {
    this.lines = [`# ${title}`, `# recorded ${new Date().toISOString()}`];
  }

  exchange(command: Buffer, response: Buffer): void {
    this.count++;
    this.lines.push(`=> ${toHex(command)}`, `<= ${toHex(response)}`);
  }

  control(code: number): void {
    this.note(CONTROL_NAMES[code] ?? `control byte ${code.toString(16).padStart(2, "0")}`);
  }

  note(text: string): void {
    this.lines.push(`# ${text}`);
  }

  get exchanges(): number {
    return this.count;
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}
