import { TermhostError } from "../../errors/errors.js";
import { copyInto } from "./copy.js";

/**
 * An ISO 7816-4 command APDU. `le` is the number of response bytes expected (1..65536), absent
 * for cases 1 and 3; 256 is written 00 in short form and 65536 is written 0000 in extended form.
 */
export interface CommandApdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  /** Command data (Lc bytes); absent or empty for cases 1 and 2. */
  data?: Buffer;
  le?: number;
  /** Use extended Lc/Le even when short form would do. Set by `parseCommand` when the input was extended. */
  extended?: boolean;
  /** Command data is a secret (PIN, key): traces show only its length. */
  sensitive?: boolean;
}

export type ApduCase = "1" | "2S" | "3S" | "4S" | "2E" | "3E" | "4E";

export const MAX_SHORT_LC = 255;
export const MAX_SHORT_LE = 256;
export const MAX_EXTENDED_LC = 65535;
export const MAX_EXTENDED_LE = 65536;

function malformed(message: string, context: Record<string, unknown>): TermhostError {
  return new TermhostError("APDU_MALFORMED", message, { context });
}

function checkByte(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) {
    throw malformed(`${name} must be a byte, got ${value}`, { field: name, value });
  }
}

/** Whether the command needs (or asks for) extended length fields. */
export function isExtended(cmd: CommandApdu): boolean {
  const lc = cmd.data?.length ?? 0;
  return cmd.extended === true || lc > MAX_SHORT_LC || (cmd.le ?? 0) > MAX_SHORT_LE;
}

export function commandCase(cmd: CommandApdu): ApduCase {
  const hasData = (cmd.data?.length ?? 0) > 0;
  const hasLe = cmd.le !== undefined;
  if (!hasData && !hasLe) return "1";
  const suffix = isExtended(cmd) ? "E" : "S";
  if (!hasData) return `2${suffix}`;
  return hasLe ? `4${suffix}` : `3${suffix}`;
}

export function serializeCommand(cmd: CommandApdu): Buffer {
  checkByte("cla", cmd.cla);
  checkByte("ins", cmd.ins);
  checkByte("p1", cmd.p1);
  checkByte("p2", cmd.p2);
  const data = cmd.data ?? Buffer.alloc(0);
  if (data.length > MAX_EXTENDED_LC) {
    throw malformed(`command data of ${data.length} bytes exceeds ${MAX_EXTENDED_LC}`, { lc: data.length });
  }
  if (cmd.le !== undefined && (!Number.isInteger(cmd.le) || cmd.le < 1 || cmd.le > MAX_EXTENDED_LE)) {
    throw malformed(`Le must be 1..${MAX_EXTENDED_LE}, got ${cmd.le}`, { le: cmd.le });
  }
  // One buffer written in place: this runs for every APDU the daemon sends.
  const extended = isExtended(cmd);
  const lcBytes = data.length === 0 ? 0 : extended ? 3 : 1;
  const leBytes = cmd.le === undefined ? 0 : !extended ? 1 : data.length === 0 ? 3 : 2;
  const out = Buffer.allocUnsafe(4 + lcBytes + data.length + leBytes);
  out[0] = cmd.cla;
  out[1] = cmd.ins;
  out[2] = cmd.p1;
  out[3] = cmd.p2;
  let at = 4;
  if (lcBytes === 1) out[at++] = data.length;
  else if (lcBytes === 3) {
    out[at++] = 0x00;
    out.writeUInt16BE(data.length, at);
    at += 2;
  }
  copyInto(out, at, data, data.length);
  at += data.length;
  if (cmd.le !== undefined) {
    if (leBytes === 1) out[at] = cmd.le & 0xff;
    else {
      if (leBytes === 3) out[at++] = 0x00;
      out.writeUInt16BE(cmd.le & 0xffff, at);
    }
  }
  return out;
}

/** Decodes a command APDU following ISO 7816-3 12.1.3; anything that fits no case is APDU_MALFORMED. */
export function parseCommand(bytes: Uint8Array): CommandApdu {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4) {
    throw malformed(`command APDU of ${buf.length} bytes is shorter than its 4-byte header`, {
      length: buf.length,
    });
  }
  const [cla, ins, p1, p2] = [buf[0] ?? 0, buf[1] ?? 0, buf[2] ?? 0, buf[3] ?? 0];
  const head = { cla, ins, p1, p2 };
  const body = buf.subarray(4);
  const n = body.length;
  if (n === 0) return head;
  const b1 = body[0] ?? 0;
  if (n === 1) return { ...head, le: b1 === 0 ? MAX_SHORT_LE : b1 };
  if (b1 !== 0) {
    const data = Buffer.from(body.subarray(1, 1 + b1));
    if (n === 1 + b1) return { ...head, data };
    if (n === 2 + b1) {
      const le = body[n - 1] ?? 0;
      return { ...head, data, le: le === 0 ? MAX_SHORT_LE : le };
    }
    throw malformed(`short Lc ${b1} does not match a body of ${n} bytes`, { lc: b1, bodyLength: n });
  }
  if (n === 2) {
    throw malformed("a 2-byte body starting with 00 is neither short nor extended", { bodyLength: n });
  }
  const l16 = body.readUInt16BE(1);
  if (n === 3) return { ...head, le: l16 === 0 ? MAX_EXTENDED_LE : l16, extended: true };
  if (l16 === 0) throw malformed("extended Lc of 0000 is not allowed", { bodyLength: n });
  const data = Buffer.from(body.subarray(3, 3 + l16));
  if (n === 3 + l16) return { ...head, data, extended: true };
  if (n === 5 + l16) {
    const le = body.readUInt16BE(n - 2);
    return { ...head, data, le: le === 0 ? MAX_EXTENDED_LE : le, extended: true };
  }
  throw malformed(`extended Lc ${l16} does not match a body of ${n} bytes`, { lc: l16, bodyLength: n });
}
