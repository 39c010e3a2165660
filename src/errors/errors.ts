/**
 * One error class for the whole product. Callers switch on `code`, never on the message text;
 * the same codes travel over the socket API, the CLI's exit paths and the logs.
 */
export const ErrorCode = {
  // configuration and start-up
  CONFIG_INVALID: "CONFIG_INVALID",
  PROFILE_INVALID: "PROFILE_INVALID",
  // production mode refuses what only a test rig may have
  TEST_KEY_IN_PRODUCTION: "TEST_KEY_IN_PRODUCTION",
  DEFAULT_TERMINAL_ID_IN_PRODUCTION: "DEFAULT_TERMINAL_ID_IN_PRODUCTION",
  SIMULATED_DEVICE_IN_PRODUCTION: "SIMULATED_DEVICE_IN_PRODUCTION",
  CLEARTEXT_ISSUER_IN_PRODUCTION: "CLEARTEXT_ISSUER_IN_PRODUCTION",
  CLEARTEXT_FLEET_DATABASE_IN_PRODUCTION: "CLEARTEXT_FLEET_DATABASE_IN_PRODUCTION",
  VIRTUAL_READER_IN_PRODUCTION: "VIRTUAL_READER_IN_PRODUCTION",
  // journal
  JOURNAL_LOCKED: "JOURNAL_LOCKED",
  JOURNAL_CORRUPT: "JOURNAL_CORRUPT",
  JOURNAL_WRITE_FAILED: "JOURNAL_WRITE_FAILED",
  JOURNAL_CLOSED: "JOURNAL_CLOSED",
  JOURNAL_RECORD_INVALID: "JOURNAL_RECORD_INVALID",
  JOURNAL_NOT_FOUND: "JOURNAL_NOT_FOUND",
  // PC/SC and cards
  PCSC_UNAVAILABLE: "PCSC_UNAVAILABLE",
  READER_UNAVAILABLE: "READER_UNAVAILABLE",
  CARD_ABSENT: "CARD_ABSENT",
  CARD_REMOVED: "CARD_REMOVED",
  APDU_MALFORMED: "APDU_MALFORMED",
  APDU_STATUS: "APDU_STATUS",
  ATR_MALFORMED: "ATR_MALFORMED",
  /** A DESFire card answered a native command with a status other than 00 / AF (named in context.status). */
  DESFIRE_STATUS: "DESFIRE_STATUS",
  // value increases and restore
  CARD_NOT_AUTHENTIC: "CARD_NOT_AUTHENTIC",
  AUTHORIZATION_DECLINED: "AUTHORIZATION_DECLINED",
  AUTHORIZER_UNAVAILABLE: "AUTHORIZER_UNAVAILABLE",
  LIMIT_EXCEEDED: "LIMIT_EXCEEDED",
  CARD_MISMATCH: "CARD_MISMATCH",
  VALUE_REFUSED: "VALUE_REFUSED",
  REQUEST_CONFLICT: "REQUEST_CONFLICT",
  /** A request id resent with other parameters than the first request it named (postage batches). */
  REQUEST_ID_CONFLICT: "REQUEST_ID_CONFLICT",
  TRANSACTION_NOT_FOUND: "TRANSACTION_NOT_FOUND",
  INTERRUPTED: "INTERRUPTED",
  // socket API
  PARSE_ERROR: "PARSE_ERROR",
  INVALID_REQUEST: "INVALID_REQUEST",
  METHOD_NOT_FOUND: "METHOD_NOT_FOUND",
  INVALID_PARAMS: "INVALID_PARAMS",
  LINE_TOO_LONG: "LINE_TOO_LONG",
  UNAUTHORIZED: "UNAUTHORIZED",
  CONSOLE_DISABLED: "CONSOLE_DISABLED",
  BUSY: "BUSY",
  RATE_LIMITED: "RATE_LIMITED",
  TOO_MANY_CONNECTIONS: "TOO_MANY_CONNECTIONS",
  TIMEOUT: "TIMEOUT",
  DAEMON_UNREACHABLE: "DAEMON_UNREACHABLE",
  INTERNAL: "INTERNAL",
  // crypto
  KEY_INVALID: "KEY_INVALID",
  // postage meter serial link
  METER_FRAME_INVALID: "METER_FRAME_INVALID",
  METER_PAYLOAD_INVALID: "METER_PAYLOAD_INVALID",
  METER_NAK: "METER_NAK",
  METER_TIMEOUT: "METER_TIMEOUT",
  METER_DISCONNECTED: "METER_DISCONNECTED",
  METER_LOCKED: "METER_LOCKED",
  METER_INSUFFICIENT_FUNDS: "METER_INSUFFICIENT_FUNDS",
  METER_REFUSED: "METER_REFUSED",
  METER_REFILL_PENDING: "METER_REFILL_PENDING",
  // postage funds, batches and refills
  POSTAGE_INSUFFICIENT_FUNDS: "POSTAGE_INSUFFICIENT_FUNDS",
  POSTAGE_METER_UNKNOWN: "POSTAGE_METER_UNKNOWN",
  POSTAGE_METER_UNAVAILABLE: "POSTAGE_METER_UNAVAILABLE",
  POSTAGE_CURRENCY_MISMATCH: "POSTAGE_CURRENCY_MISMATCH",
  POSTAGE_BATCH_UNKNOWN: "POSTAGE_BATCH_UNKNOWN",
  POSTAGE_REFILL_UNAUTHORIZED: "POSTAGE_REFILL_UNAUTHORIZED",
  POSTAGE_REFILL_FAILED: "POSTAGE_REFILL_FAILED",
  // USB HID scales and postage rating
  SCALE_REPORT_INVALID: "SCALE_REPORT_INVALID",
  SCALE_OFFLINE: "SCALE_OFFLINE",
  SCALE_UNSTABLE: "SCALE_UNSTABLE",
  SCALE_OVERWEIGHT: "SCALE_OVERWEIGHT",
  SCALE_UNDER_ZERO: "SCALE_UNDER_ZERO",
  SCALE_FAULT: "SCALE_FAULT",
  SCALE_UNSUPPORTED: "SCALE_UNSUPPORTED",
  WEIGHT_UNIT_UNSUPPORTED: "WEIGHT_UNIT_UNSUPPORTED",
  RATE_CLASS_UNKNOWN: "RATE_CLASS_UNKNOWN",
  RATE_WEIGHT_EXCEEDED: "RATE_WEIGHT_EXCEEDED",
  SCALE_FRAME_INVALID: "SCALE_FRAME_INVALID",
  RATE_TABLE_UNKNOWN: "RATE_TABLE_UNKNOWN",
  // the fleet's shared postage account and ledger (PostgreSQL)
  FLEET_UNAVAILABLE: "FLEET_UNAVAILABLE",
  FLEET_INSUFFICIENT_FUNDS: "FLEET_INSUFFICIENT_FUNDS",
  /** A reservation that expired or was voided: the refill it held funds for can no longer be sent. */
  FLEET_RESERVATION_CLOSED: "FLEET_RESERVATION_CLOSED",
  FLEET_SCHEMA_NEWER: "FLEET_SCHEMA_NEWER",
  /** This daemon runs as one kiosk alone: its configuration has no `fleet` section. */
  FLEET_NOT_CONFIGURED: "FLEET_NOT_CONFIGURED",
  // running as a system service
  SERVICE_ENV_INVALID: "SERVICE_ENV_INVALID",
  SERVICE_NOTIFY_FAILED: "SERVICE_NOTIFY_FAILED",
  SHUTDOWN_OVERRAN: "SHUTDOWN_OVERRAN",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorOptions {
  /** What the operator or the client should do about it. */
  hint?: string;
  /** Machine-readable facts (offsets, field paths, reader names); never secrets. */
  context?: Record<string, unknown>;
  cause?: unknown;
}

export class TermhostError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly context: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "TermhostError";
    this.code = code;
    this.hint = options.hint;
    this.context = options.context;
  }

  /** Message plus hint, for logs and the CLI. */
  describe(): string {
    return this.hint === undefined
      ? `${this.code}: ${this.message}`
      : `${this.code}: ${this.message}\n  ${this.hint}`;
  }
}

export function isTermhostError(e: unknown, code?: ErrorCode): e is TermhostError {
  return e instanceof TermhostError && (code === undefined || e.code === code);
}
