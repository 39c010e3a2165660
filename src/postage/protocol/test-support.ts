import { TermhostError } from "../../errors/errors.js";

/** Hex with optional spaces, for fixtures. */
export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ""), "hex");
}

/** The error code a call throws, or "no error"; tests compare codes, never messages. */
export function thrownCode(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof TermhostError ? e.code : `untyped: ${String(e)}`;
  }
  return "no error";
}
