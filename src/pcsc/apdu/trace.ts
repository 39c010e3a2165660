import type { CommandApdu } from "./command.js";
import { isExtended } from "./command.js";
import { toHex } from "./hex.js";
import type { ResponseApdu } from "./response.js";
import { describeStatus } from "./status.js";

/** Which parts of an exchange a trace must hide; decided per command. */
export interface MaskDecision {
  commandData: boolean;
  responseData: boolean;
}
export type MaskHook = (command: CommandApdu) => MaskDecision;

/** Default hook: a command flagged `sensitive` hides its data; responses are shown. */
export const maskSensitive: MaskHook = (command) => ({
  commandData: command.sensitive === true,
  responseData: false,
});

const masked = (length: number): string => `** ${length} byte${length === 1 ? "" : "s"} masked **`;

function lengthField(value: number, extended: boolean, withMarker: boolean): string {
  if (!extended) return toHex(Buffer.from([value & 0xff]));
  const wire = Buffer.from([0x00, (value >> 8) & 0xff, value & 0xff]);
  return toHex(withMarker ? wire : wire.subarray(1));
}

/** `=> 00A40400 07 A0000000041010 00`: header, Lc, data, Le, as they go on the wire. */
export function formatCommandTrace(command: CommandApdu, mask: MaskHook = maskSensitive): string {
  const header = toHex(Buffer.from([command.cla, command.ins, command.p1, command.p2]));
  const parts = [`=> ${header}`];
  const data = command.data ?? Buffer.alloc(0);
  const extended = isExtended(command);
  if (data.length > 0) {
    parts.push(lengthField(data.length, extended, true));
    parts.push(mask(command).commandData ? masked(data.length) : toHex(data));
  }
  if (command.le !== undefined) parts.push(lengthField(command.le, extended, data.length === 0));
  return parts.join(" ");
}

/** `<= 6F10…  9000 (success)`: data, status word, meaning. */
export function formatResponseTrace(response: ResponseApdu, maskData = false): string {
  const sw = response.sw.toString(16).toUpperCase().padStart(4, "0");
  const meaning = `(${describeStatus(response.sw)})`;
  if (response.data.length === 0) return `<= ${sw} ${meaning}`;
  const data = maskData ? masked(response.data.length) : toHex(response.data);
  return `<= ${data} ${sw} ${meaning}`;
}
