import type { ErrorCode } from "../errors/errors.js";

/** Exit codes of `termhost`, documented in docs/cli.md; scripts may rely on them. */
export const Exit = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  DAEMON_UNREACHABLE: 3,
  TIMEOUT: 4,
  REFUSED: 5,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case "DAEMON_UNREACHABLE":
      return Exit.DAEMON_UNREACHABLE;
    case "TIMEOUT":
      return Exit.TIMEOUT;
    case "INVALID_PARAMS":
    case "METHOD_NOT_FOUND":
      return Exit.USAGE;
    case "UNAUTHORIZED":
    case "BUSY":
      return Exit.REFUSED;
    default:
      return Exit.FAILED;
  }
}
