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

/** Deterministic PRNG (mulberry32) so fuzz failures replay from their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
