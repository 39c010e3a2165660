import { isTermhostError } from "../../../src/errors/errors.js";

/** The TermhostError code `fn` throws; "no error" or "not a TermhostError" otherwise, so a test can fail on either. */
export function thrownCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return isTermhostError(e) ? e.code : `not a TermhostError: ${String(e)}`;
  }
  return "no error";
}

export async function rejectedCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (e) {
    return isTermhostError(e) ? e.code : `not a TermhostError: ${String(e)}`;
  }
  return "no error";
}

export const hex = (text: string): Buffer => Buffer.from(text.replace(/[\s:]+/g, ""), "hex");
