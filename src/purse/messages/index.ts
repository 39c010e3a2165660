/**
 * The purse application's messages: one codec shared by the card simulator, the SAM simulator and
 * the terminal's load engine. Each command has build (host side) and parse (card side) for the
 * command, serialize (card side) and parse (host side) for the response data. Decoding failures are
 * APDU_MALFORMED with `context.problem` ("length", "value" or "p1p2").
 */
export * from "./authenticate.js";
export * from "./credit.js";
export * from "./cryptograms.js";
export * from "./debit.js";
export {
  checkAmount,
  checkBalance,
  checkCurrency,
  type FieldProblem,
  fieldProblemOf,
  ID_LENGTH,
  MAX_COUNTER,
  MAX_MONEY,
  PURSE_CLA,
} from "./fields.js";
export * from "./get-balance.js";
export * from "./initialize-load.js";
export * from "./read-last-transaction.js";
export * from "./sam/authorization-id.js";
export * from "./sam/authorization-record.js";
export * from "./sam/find-authorization.js";
export * from "./sam/get-challenge.js";
export * from "./sam/issue-authorization.js";
export * from "./sam/verify-authentication.js";
export * from "./sam/verify-completion.js";
export * from "./select.js";
export * from "./status.js";
export * from "./well-known-keys.js";
