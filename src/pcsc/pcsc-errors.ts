import { type ErrorCode, TermhostError } from "../errors/errors.js";

/** PC/SC return codes the binding embeds in its messages as `(0x8010xxxx)`. */
const byReturnCode: ReadonlyMap<number, { code: ErrorCode; hint: string }> = new Map([
  [0x80100069, { code: "CARD_REMOVED", hint: "the card was pulled; re-insert it to continue" }],
  [0x80100068, { code: "CARD_REMOVED", hint: "the card was reset by another application; retry" }],
  [0x80100067, { code: "CARD_REMOVED", hint: "the card lost power; re-insert it" }],
  [0x80100066, { code: "CARD_REMOVED", hint: "the card does not answer; re-insert it" }],
  [0x8010000c, { code: "CARD_ABSENT", hint: "insert a card" }],
  [0x80100016, { code: "CARD_REMOVED", hint: "the exchange was interrupted; re-insert the card" }],
  [0x80100009, { code: "READER_UNAVAILABLE", hint: "the reader is gone; check its cable" }],
  [0x80100017, { code: "READER_UNAVAILABLE", hint: "the reader is gone; check its cable" }],
  [0x8010006a, { code: "READER_UNAVAILABLE", hint: "pcscd refused access to the card for now; retry" }],
  [0x8010000b, { code: "BUSY", hint: "another application holds the card; retry shortly" }],
  [
    0x8010001d,
    { code: "PCSC_UNAVAILABLE", hint: "pcscd is not running; the daemon reconnects when it is back" },
  ],
  [0x8010001e, { code: "PCSC_UNAVAILABLE", hint: "pcscd stopped; the daemon reconnects when it is back" }],
  [0x80100013, { code: "PCSC_UNAVAILABLE", hint: "lost the connection to pcscd; the daemon reconnects" }],
  [
    0x80100003,
    { code: "PCSC_UNAVAILABLE", hint: "the PC/SC context is no longer valid; the daemon reconnects" },
  ],
  [0x80100004, { code: "CARD_REMOVED", hint: "the card connection was invalidated; re-insert the card" }],
  [0x8010000f, { code: "CARD_REMOVED", hint: "the card does not speak the requested protocol" }],
] as const);

export function pcscReturnCode(err: Error): number | undefined {
  const m = /\(0x([0-9a-fA-F]{8})\)/.exec(err.message);
  return m?.[1] === undefined ? undefined : Number.parseInt(m[1], 16);
}

/** Turns a binding error into a typed one; unknown codes stay INTERNAL with the PC/SC text kept. */
export function fromPcscError(err: Error, reader: string, operation: string): TermhostError {
  const rc = pcscReturnCode(err);
  const known = rc === undefined ? undefined : byReturnCode.get(rc);
  const context = { reader, operation, pcsc: rc === undefined ? null : `0x${rc.toString(16)}` };
  if (known === undefined) {
    return new TermhostError("INTERNAL", `${operation} on ${reader} failed: ${err.message}`, {
      context,
      cause: err,
    });
  }
  return new TermhostError(known.code, `${operation} on ${reader}: ${err.message}`, {
    hint: known.hint,
    context,
    cause: err,
  });
}
