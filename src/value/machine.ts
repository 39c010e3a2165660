import { TermhostError } from "../errors/errors.js";
import type { RecordInput } from "../journal/index.js";
import type { Completion, RestoreDecision } from "./devices.js";
import type { UnresolvedReason, ValueRecords, ValueTx } from "./records.js";

/**
 * What the engine decides about one value transaction once something happened to it, as a pure
 * function: (transaction, event) → effects. The transaction's state is the journal's (the reducer
 * in records.ts); the engine performs the effects in order and feeds back what they produced.
 * Every branch that moves money or reports a reversal lives here, where a model test reaches it
 * without devices.
 */
export type ValueEvent =
  /**
   * A step threw: of the run, or of a restore (`restoring`). `journalFailed`: the journal failed,
   * so whether an append reached the disk is unknown.
   */
  | { type: "interrupted"; error: TermhostError; journalFailed: boolean; restoring: boolean }
  /** The target's own record after an interruption. */
  | { type: "inspected"; decision: RestoreDecision }
  /** The stored message was sent (again) and its completion verified. */
  | { type: "sent"; completion: Completion; restored: "resent" | null }
  /** What the authorizer holds for a transaction interrupted while authorizing. */
  | { type: "found"; found: FoundAuthorization | undefined; cause: TermhostError }
  /** The outcome of reporting a reversal, for the transaction being closed with `cause`. */
  | { type: "reversal"; authorizationId: number; outcome: ReversalOutcome; cause: TermhostError }
  /** A later try at reporting the reversal of a closed transaction. */
  | { type: "reversal-retried"; outcome: ReversalOutcome }
  /** A technician closes an open transaction whose target never came back. */
  | { type: "write-off"; note: string };

export interface FoundAuthorization {
  authorizationId: number;
  status: "issued" | "applied" | "reversed";
}

export type ReversalOutcome =
  | { kind: "reported" }
  /** Could not ask (the authorizer is unreachable): asked again later. */
  | { kind: "unavailable"; error: TermhostError }
  /** The authorizer said no: a contradiction for a technician, not asked again. */
  | { kind: "refused"; error: TermhostError };

export type ValueEffect =
  | { kind: "journal"; record: RecordInput<ValueRecords> }
  /** Waits for the target (restore), saying why. */
  | { kind: "wait"; code: string; message: string }
  /** Decides nothing until the journal is reopened and re-read. */
  | { kind: "await-journal"; code: string; message: string }
  | { kind: "send"; restored: "resent" | null }
  /** Ends the authorizer's exchange (if any), then looks the authorization up. */
  | { kind: "settle-authorizing"; cause: TermhostError }
  | { kind: "report-reversal"; authorizationId: number; cause: TermhostError }
  /** For the log: an answer that did not verify (a possible counterfeit) or a contradiction. */
  | { kind: "alarm"; message: string };

/** Codes after which a target is not asked again: its answer does not verify, or it refuses the message. */
const UNTRUSTED = new Set(["CARD_NOT_AUTHENTIC", "APDU_MALFORMED"]);
const REFUSED_OUTRIGHT = new Set(["CARD_NOT_AUTHENTIC", "APDU_MALFORMED", "METER_REFUSED"]);

export function valueStep(tx: ValueTx, e: ValueEvent, at: string): ValueEffect[] {
  const { txId } = tx;
  const failed = (cause: TermhostError, reversal: ValueTx["reversal"]): ValueEffect[] => [
    ...(UNTRUSTED.has(cause.code)
      ? [
          {
            kind: "alarm",
            message: "card answer refused: it does not verify; possible counterfeit card",
          } as const,
        ]
      : []),
    {
      kind: "journal",
      record: {
        type: "value.failed",
        body: { txId, code: cause.code, message: cause.message, reversal, at },
      },
    },
  ];
  const unresolved = (reason: UnresolvedReason, message: string): ValueEffect[] => [
    { kind: "journal", record: { type: "value.unresolved", body: { txId, reason, message, at } } },
  ];
  const applied = (c: Completion, restored: "already-applied" | "resent" | null): ValueEffect[] => [
    {
      kind: "journal",
      record: {
        type: "value.applied",
        body: { txId, balanceAfter: c.balanceAfter, proof: c.proof, restored, at },
      },
    },
  ];
  /** A message that can never land: its authorization is reported, then the transaction fails. */
  const reverse = (cause: TermhostError): ValueEffect[] =>
    tx.kind !== "debit" && tx.authorizationId !== null
      ? [{ kind: "report-reversal", authorizationId: tx.authorizationId, cause }]
      : failed(cause, null);

  switch (e.type) {
    case "interrupted": {
      const { error } = e;
      // The journal may or may not hold the record whose write failed: only its re-read can tell.
      if (e.journalFailed) return [{ kind: "await-journal", code: error.code, message: error.message }];
      switch (tx.phase) {
        case "requested":
          return failed(error, null);
        case "authorizing":
          return error.code === "AUTHORIZATION_DECLINED" || error.code === "CARD_NOT_AUTHENTIC"
            ? failed(error, null)
            : [{ kind: "settle-authorizing", cause: error }];
        // A meter refusing the message outright never takes it later. A card answer that does not
        // verify during the run is asked about at once (restore reads the card's own record); one
        // that does not verify while restoring ends the transaction: the card is not asked again.
        case "authorized":
          return error.code === "METER_REFUSED" || (e.restoring && REFUSED_OUTRIGHT.has(error.code))
            ? reverse(error)
            : [{ kind: "wait", code: error.code, message: error.message }];
        case "debiting":
          return e.restoring && UNTRUSTED.has(error.code)
            ? failed(error, null)
            : [{ kind: "wait", code: error.code, message: error.message }];
        default:
          return [];
      }
    }
    case "inspected": {
      const d = e.decision;
      if (tx.phase !== "authorized" && tx.phase !== "debiting") return [];
      switch (d.kind) {
        case "other-card":
          return [];
        case "applied":
          return applied(d.completion, "already-applied");
        case "resend":
          return [{ kind: "send", restored: "resent" }];
        case "stale":
          return reverse(staleError(d.reason));
        case "ambiguous":
          return unresolved("counter-moved-on", d.reason);
      }
      return [];
    }
    case "sent":
      if (tx.phase !== "authorized" && tx.phase !== "debiting") return [];
      return applied(e.completion, e.restored);
    case "found": {
      if (tx.phase !== "authorizing") return [];
      const f = e.found;
      if (f === undefined) return failed(e.cause, null);
      switch (f.status) {
        case "applied":
          // Applied at the authorizer, yet no message left this terminal: nothing to reverse here.
          return [
            { kind: "alarm", message: "authorization applied without a message from this terminal" },
            ...unresolved(
              "authorizer-applied",
              `authorization ${f.authorizationId} is applied at the authorizer, yet this terminal sent no message`,
            ),
          ];
        case "issued":
          return [{ kind: "report-reversal", authorizationId: f.authorizationId, cause: e.cause }];
        case "reversed":
          return failed(e.cause, { authorizationId: f.authorizationId, reported: true });
      }
      return [];
    }
    case "reversal": {
      if (!isOpenPhase(tx)) return [];
      const { authorizationId } = e;
      const effects = failed(e.cause, { authorizationId, reported: e.outcome.kind === "reported" });
      if (e.outcome.kind === "refused") effects.push(refusedRecord(txId, e.outcome.error, at));
      return effects;
    }
    case "reversal-retried":
      if (tx.reversal === null || tx.reversal.reported || tx.reversalRefused !== null) return [];
      if (e.outcome.kind === "reported")
        return [{ kind: "journal", record: { type: "value.reversal-reported", body: { txId, at } } }];
      if (e.outcome.kind === "refused") return [refusedRecord(txId, e.outcome.error, at)];
      return [];
    case "write-off":
      if (!isOpenPhase(tx)) return [];
      // Before the authorizing record nothing can have been issued or sent.
      if (tx.phase === "requested")
        return [
          {
            kind: "journal",
            record: {
              type: "value.failed",
              body: { txId, code: "INTERRUPTED", message: `written off: ${e.note}`, reversal: null, at },
            },
          },
        ];
      return unresolved("written-off", e.note);
  }
}

function isOpenPhase(tx: ValueTx): boolean {
  return tx.phase !== "applied" && tx.phase !== "failed" && tx.phase !== "unresolved";
}

function refusedRecord(txId: string, error: TermhostError, at: string): ValueEffect {
  return {
    kind: "journal",
    record: { type: "value.reversal-refused", body: { txId, code: error.code, message: error.message, at } },
  };
}

function staleError(reason: string): TermhostError {
  return new TermhostError("VALUE_REFUSED", `the stored message can no longer land: ${reason}`, {
    hint: "the authorization is reported for reversal; start a new transaction",
  });
}
