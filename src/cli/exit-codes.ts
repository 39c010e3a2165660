import type { ErrorCode } from "../errors/errors.js";

/** Exit codes of `termhost`, documented in docs/cli.md; scripts may rely on them. */
export const Exit = {
  OK: 0,
  /** The daemon answered with an error not listed below, or a transaction or batch ended failed. */
  FAILED: 1,
  USAGE: 2,
  DAEMON_UNREACHABLE: 3,
  TIMEOUT: 4,
  /** Not allowed now: unauthorized socket, busy reader, rate or connection limit. */
  REFUSED: 5,
  /** The device is not there: no card, reader gone, PC/SC down, meter disconnected. */
  DEVICE_UNAVAILABLE: 6,
  /** No such transaction, batch, meter, reader or journal file. */
  NOT_FOUND: 7,
  /** Declined by a rule: a limit, a currency, the authorizer, insufficient postage funds. */
  DECLINED: 8,
  /** The daemon holds the journal; stop it first. */
  JOURNAL_LOCKED: 9,
  /** The journal is damaged before its tail or holds records this version cannot read. */
  JOURNAL_DAMAGED: 10,
  /** Bad input data: a device profile, an ATR, a configuration file, an APDU. */
  INVALID_DATA: 11,
  /** This daemon does not offer the feature (e.g. no scale support, no fleet configured). */
  UNSUPPORTED: 12,
  /** Accepted but not settled yet: a value transaction waiting for restore, a batch still running. */
  PENDING: 13,
  /** A check of `selftest` failed. */
  CHECK_FAILED: 14,
  /** A value transaction closed unresolved: neither applied nor reversed; reconcile it with the issuer. */
  UNRESOLVED: 15,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

export function exitCodeFor(code: ErrorCode): ExitCode {
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
    case "RATE_LIMITED":
    case "TOO_MANY_CONNECTIONS":
      return Exit.REFUSED;
    case "CARD_ABSENT":
    case "CARD_REMOVED":
    case "READER_UNAVAILABLE":
    case "PCSC_UNAVAILABLE":
    case "METER_DISCONNECTED":
    case "METER_TIMEOUT":
    case "METER_REFILL_PENDING":
    case "POSTAGE_METER_UNAVAILABLE":
    case "SCALE_OFFLINE":
      return Exit.DEVICE_UNAVAILABLE;
    case "TRANSACTION_NOT_FOUND":
    case "POSTAGE_BATCH_UNKNOWN":
    case "POSTAGE_METER_UNKNOWN":
    case "JOURNAL_NOT_FOUND":
      return Exit.NOT_FOUND;
    case "LIMIT_EXCEEDED":
    case "VALUE_REFUSED":
    case "AUTHORIZATION_DECLINED":
    case "POSTAGE_INSUFFICIENT_FUNDS":
    case "POSTAGE_CURRENCY_MISMATCH":
    case "POSTAGE_REFILL_UNAUTHORIZED":
    case "REQUEST_CONFLICT":
    case "REQUEST_ID_CONFLICT":
      return Exit.DECLINED;
    case "JOURNAL_LOCKED":
      return Exit.JOURNAL_LOCKED;
    case "JOURNAL_CORRUPT":
    case "JOURNAL_RECORD_INVALID":
      return Exit.JOURNAL_DAMAGED;
    case "PROFILE_INVALID":
    case "ATR_MALFORMED":
    case "CONFIG_INVALID":
    case "APDU_MALFORMED":
      return Exit.INVALID_DATA;
    case "SCALE_UNSUPPORTED":
    case "FLEET_NOT_CONFIGURED":
      return Exit.UNSUPPORTED;
    default:
      return Exit.FAILED;
  }
}
