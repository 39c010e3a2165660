/**
 * Status words of the purse application and the SAM. ISO 7816-4 codes where one fits; the 94xx
 * codes are proprietary (ISO leaves 9xxx other than 9000 to the application) for outcomes the
 * terminal must tell apart to pick a typed error.
 */
export const PurseSW = {
  OK: 0x9000,
  /** A MAC (card authentication, S1, S2 or S3) did not verify. */
  MAC_INVALID: 0x6300,
  /** Persisting state failed; nothing changed. */
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  /** The card needs AUTHENTICATE first in this session; the SAM needs a verified card authentication. */
  SECURITY_NOT_SATISFIED: 0x6982,
  /** No application selected, no challenge outstanding, or an authorization in the wrong state. */
  CONDITIONS_NOT_SATISFIED: 0x6985,
  DATA_INVALID: 0x6a80,
  NOT_FOUND: 0x6a82,
  P1P2_INVALID: 0x6a86,
  /** The SAM has no authorization with that id. */
  REFERENCE_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  /** The credit would take the balance above the card's maximum. */
  BALANCE_LIMIT: 0x9401,
  /** The debit is larger than the balance. */
  INSUFFICIENT_BALANCE: 0x9402,
  /** The command's counter is neither the card's current one nor a resend of its last transaction. */
  COUNTER_MISMATCH: 0x9403,
  /** The transaction counter is at its maximum; the card takes no more value transactions. */
  COUNTER_EXHAUSTED: 0x9404,
  /** The command's currency is not the card's. */
  CURRENCY_MISMATCH: 0x9405,
} as const;
export type PurseSW = (typeof PurseSW)[keyof typeof PurseSW];

const MEANING: ReadonlyMap<number, string> = new Map([
  [PurseSW.OK, "success"],
  [PurseSW.MAC_INVALID, "MAC or cryptogram did not verify"],
  [PurseSW.MEMORY_FAILURE, "memory failure, state unchanged"],
  [PurseSW.WRONG_LENGTH, "wrong length"],
  [PurseSW.SECURITY_NOT_SATISFIED, "authentication required first"],
  [PurseSW.CONDITIONS_NOT_SATISFIED, "conditions of use not satisfied"],
  [PurseSW.DATA_INVALID, "incorrect data"],
  [PurseSW.NOT_FOUND, "application not found"],
  [PurseSW.P1P2_INVALID, "incorrect P1-P2"],
  [PurseSW.REFERENCE_NOT_FOUND, "authorization not found"],
  [PurseSW.INS_NOT_SUPPORTED, "instruction not supported"],
  [PurseSW.CLA_NOT_SUPPORTED, "class not supported"],
  [PurseSW.BALANCE_LIMIT, "balance limit exceeded"],
  [PurseSW.INSUFFICIENT_BALANCE, "insufficient balance"],
  [PurseSW.COUNTER_MISMATCH, "transaction counter mismatch"],
  [PurseSW.COUNTER_EXHAUSTED, "transaction counter exhausted"],
  [PurseSW.CURRENCY_MISMATCH, "currency mismatch"],
]);

/** The purse application's meaning of a status word, or undefined for one it does not use. */
export function describePurseStatus(sw: number): string | undefined {
  return MEANING.get(sw);
}
