import { TermhostError } from "../../../errors/errors.js";
import { ResultCode } from "../constants.js";
import { payloadError } from "../wire.js";

const KNOWN = new Set<number>(Object.values(ResultCode));

/** Every response payload is a result byte; only OK is followed by the command's body. */
export function okPayload(body: Buffer): Buffer {
  return Buffer.concat([Buffer.of(ResultCode.OK), body]);
}

export function refusalPayload(code: Exclude<ResultCode, typeof ResultCode.OK>): Buffer {
  return Buffer.of(code);
}

/**
 * Returns the body of an OK response; any other result becomes the typed error a caller can
 * switch on (METER_LOCKED, METER_INSUFFICIENT_FUNDS, METER_REFUSED with the result in context).
 */
export function okBody(payload: Buffer, what: string): Buffer {
  const code = payload[0];
  if (code === undefined || !KNOWN.has(code)) throw payloadError(what, `unknown result code ${code}`);
  if (code === ResultCode.OK) return payload.subarray(1);
  if (payload.length !== 1) throw payloadError(what, "a refusal carries no body");
  throw refusalError(code as ResultCode, what);
}

export function refusalError(code: ResultCode, what: string): TermhostError {
  const name = Object.entries(ResultCode).find(([, v]) => v === code)?.[0] ?? String(code);
  switch (code) {
    case ResultCode.LOCKED:
      return new TermhostError("METER_LOCKED", `${what}: meter is locked (inspection overdue)`, {
        hint: "connect the meter to its vendor for inspection (a refill carries the new inspection date)",
        context: { result: name },
      });
    case ResultCode.INSUFFICIENT_FUNDS:
      return new TermhostError("METER_INSUFFICIENT_FUNDS", `${what}: descending register too low`, {
        context: { result: name },
      });
    // The meter's own earlier refill is not finished yet: not a refusal of this one, which is tried again.
    case ResultCode.REFILL_PENDING:
      return new TermhostError("METER_REFILL_PENDING", `${what}: the meter is finishing an earlier refill`, {
        hint: "termhost sends the same refill again once the meter is ready",
        context: { result: name },
      });
    default:
      return new TermhostError("METER_REFUSED", `${what}: meter refused (${name})`, {
        context: { result: name },
      });
  }
}
