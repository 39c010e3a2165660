import { type ErrorCode, TermhostError } from "../errors/errors.js";

/** PC/SC return codes the binding embeds in its messages as `(0x8010xxxx)`. */
const byReturnCode: Record<number, { code: ErrorCode; hint: string }> = {
  2148532329: { code: "CARD_REMOVED", hint: "the card was pulled; re-insert it to continue" },
  2148532328: { code: "CARD_REMOVED", hint: "the card was reset by another application; retry" },
  2148532327: { code: "CARD_REMOVED", hint: "the card lost power; re-insert it" },
  2148532326: { code: "CARD_REMOVED", hint: "the card does not answer; re-insert it" },
  2148532236: { code: "CARD_ABSENT", hint: "insert a card" },
  2148532246: { code: "CARD_REMOVED", hint: "the exchange was interrupted; re-insert the card" },
  2148532233: { code: "READER_UNAVAILABLE", hint: "the reader is gone; check its cable" },
  2148532247: { code: "READER_UNAVAILABLE", hint: "the reader is gone; check its cable" },
  2148532235: { code: "BUSY", hint: "another application holds the card; retry shortly" },
  2148532253: {
    code: "PCSC_UNAVAILABLE",
    hint: "pcscd is not running; the daemon reconnects when it is back",
  },
  2148532254: { code: "PCSC_UNAVAILABLE", hint: "pcscd stopped; the daemon reconnects when it is back" },
  2148532243: { code: "PCSC_UNAVAILABLE", hint: "lost the connection to pcscd; the daemon reconnects" },
  2148532227: {
    code: "PCSC_UNAVAILABLE",
    hint: "the PC/SC context is no longer valid; the daemon reconnects",
  },
  2148532228: { code: "CARD_REMOVED", hint: "the card connection was invalidated; re-insert the card" },
  2148532239: { code: "CARD_REMOVED", hint: "the card does not speak the requested protocol" },
};

export function pcscReturnCode(err: Error): number | undefined {
  const m = /\(0x([0-9a-fA-F]{8})\)/.exec(err.message);
  return m?.[1] === undefined ? undefined : Number.parseInt(m[1], 16);
}

/** Turns a binding error into a typed one; unknown codes stay INTERNAL with the PC/SC text kept. */
export function fromPcscError(err: Error, reader: string, operation: string): TermhostError {
  const rc = pcscReturnCode(err);
  const known = rc === undefined ? undefined : byReturnCode[rc];
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
