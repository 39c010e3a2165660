import { TermhostError } from "../../errors/errors.js";
import { sw1Of, sw2Of } from "./response.js";

export type StatusKind = "success" | "more-data" | "warning" | "wrong-le" | "error" | "unknown";

/** Status words the product relies on, each with the meaning a technician sees in traces and errors. */
const EXACT: ReadonlyMap<number, string> = new Map([
  [0x9000, "success"],
  [0x6200, "warning: state of non-volatile memory unchanged"],
  [0x6281, "warning: part of returned data may be corrupted"],
  [0x6282, "warning: end of file or record reached before reading Le bytes"],
  [0x6283, "warning: selected file deactivated"],
  [0x6300, "warning: state of non-volatile memory changed, authentication failed"],
  [0x6381, "warning: file filled up by the last write"],
  [0x6400, "error: state of non-volatile memory unchanged"],
  [0x6500, "error: state of non-volatile memory changed"],
  [0x6581, "error: memory failure"],
  [0x6700, "wrong length"],
  [0x6881, "logical channel not supported"],
  [0x6882, "secure messaging not supported"],
  [0x6883, "last command of the chain expected"],
  [0x6884, "command chaining not supported"],
  [0x6981, "command incompatible with file structure"],
  [0x6982, "security status not satisfied"],
  [0x6983, "authentication method blocked"],
  [0x6984, "reference data not usable"],
  [0x6985, "conditions of use not satisfied"],
  [0x6986, "command not allowed (no current EF)"],
  [0x6987, "expected secure messaging data objects missing"],
  [0x6988, "incorrect secure messaging data objects"],
  [0x6a80, "incorrect parameters in the data field"],
  [0x6a81, "function not supported"],
  [0x6a82, "file or application not found"],
  [0x6a83, "record not found"],
  [0x6a84, "not enough memory space in the file"],
  [0x6a86, "incorrect parameters P1-P2"],
  [0x6a88, "referenced data not found"],
  [0x6b00, "wrong parameters P1-P2"],
  [0x6d00, "instruction code not supported or invalid"],
  [0x6e00, "class not supported"],
  [0x6f00, "no precise diagnosis"],
]);

export function statusKind(sw: number): StatusKind {
  const sw1 = sw1Of(sw);
  if (sw === 0x9000) return "success";
  if (sw1 === 0x61) return "more-data";
  if (sw1 === 0x6c) return "wrong-le";
  if (sw1 === 0x62 || sw1 === 0x63) return "warning";
  if (sw1 >= 0x64 && sw1 <= 0x6f) return "error";
  return "unknown";
}

const hex4 = (sw: number): string => sw.toString(16).toUpperCase().padStart(4, "0");

/** A short human meaning for a status word, e.g. `describeStatus(0x6a82)` → "file or application not found". */
export function describeStatus(sw: number): string {
  const exact = EXACT.get(sw);
  if (exact !== undefined) return exact;
  const sw1 = sw1Of(sw);
  const sw2 = sw2Of(sw);
  if (sw1 === 0x61) return `${sw2 === 0 ? 256 : sw2} more response bytes available (GET RESPONSE)`;
  if (sw1 === 0x6c) return `wrong Le: exact length is ${sw2 === 0 ? 256 : sw2}`;
  if (sw1 === 0x63 && (sw2 & 0xf0) === 0xc0) return `warning: counter is ${sw2 & 0x0f} (tries left)`;
  if (sw1 === 0x62) return "warning: state of non-volatile memory unchanged";
  if (sw1 === 0x63) return "warning: state of non-volatile memory changed";
  if (sw1 === 0x67) return "wrong length";
  if (sw1 === 0x68) return "functions in CLA not supported";
  if (sw1 === 0x69) return "command not allowed";
  if (sw1 === 0x6a) return "wrong parameters P1-P2";
  if (sw1 === 0x64 || sw1 === 0x65 || sw1 === 0x66) return "execution error";
  return `unknown status ${hex4(sw)}`;
}

/** The APDU_STATUS error for a status word the caller did not accept. */
export function statusError(sw: number, ins?: number): TermhostError {
  const meaning = describeStatus(sw);
  const context: Record<string, unknown> = { sw, swHex: hex4(sw), meaning };
  if (ins !== undefined) context.ins = ins;
  return new TermhostError("APDU_STATUS", `card answered ${hex4(sw)} (${meaning})`, { context });
}

/** The status word carried by an APDU_STATUS error, for callers that branch on it. */
export function statusWordOf(error: unknown): number | undefined {
  if (!(error instanceof TermhostError) || error.code !== "APDU_STATUS") return undefined;
  const sw = error.context?.sw;
  return typeof sw === "number" ? sw : undefined;
}
