import { type ErrorCode, TermhostError } from "../errors/errors.js";
import { type ErrorObject, RpcCode } from "./messages.js";

const rpcNumbers: Partial<Record<ErrorCode, number>> = {
  PARSE_ERROR: RpcCode.PARSE_ERROR,
  LINE_TOO_LONG: RpcCode.INVALID_REQUEST,
  INVALID_REQUEST: RpcCode.INVALID_REQUEST,
  METHOD_NOT_FOUND: RpcCode.METHOD_NOT_FOUND,
  INVALID_PARAMS: RpcCode.INVALID_PARAMS,
  INTERNAL: RpcCode.INTERNAL,
};

export function toErrorObject(e: unknown): ErrorObject {
  const err =
    e instanceof TermhostError
      ? e
      : new TermhostError("INTERNAL", "internal error", { hint: "see the daemon's log", cause: e });
  const data: NonNullable<ErrorObject["data"]> = { code: err.code };
  if (err.hint !== undefined) data.hint = err.hint;
  if (err.context !== undefined) data.context = err.context;
  return { code: rpcNumbers[err.code] ?? RpcCode.APPLICATION, message: err.message, data };
}

/** Rebuilds the typed error on the client side so callers can switch on `code`. */
export function fromErrorObject(obj: ErrorObject): TermhostError {
  const code = (obj.data?.code ?? "INTERNAL") as ErrorCode;
  const options: { hint?: string; context?: Record<string, unknown> } = {};
  if (obj.data?.hint !== undefined) options.hint = obj.data.hint;
  if (obj.data?.context !== undefined) options.context = obj.data.context;
  return new TermhostError(code, obj.message, options);
}
