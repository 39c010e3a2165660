import type { RefillMessage, StoredMessage, ValueKind, ValueMessage, ValueTx } from "./records.js";

/** What a target says about itself before an authorization is asked for. */
export interface TargetFacts {
  /** The card's id, or the meter's serial. */
  targetId: string;
  /** The card's transaction counter, or the meter's control total: what the authorization binds. */
  counter: number;
  balanceBefore: number;
  /** The authorizer's name for the exchange about to ask (an issuer session), to end it if abandoned. */
  authorizerRef?: string;
}

export interface Grant {
  authorizationId: number;
  /** The exact message to send, journaled as the restore record before it is sent. */
  message: StoredMessage;
}

/**
 * The engine's steps, handed to a target while it authorizes: each journals a record and returns
 * once it is durable. A target calls them in order and sends nothing before `authorized` returned.
 */
export interface IncreaseSteps {
  /** From here on an authorization may exist; refuses when another transaction of this target is being restored. */
  authorizing(facts: TargetFacts): Promise<void>;
  /** The restore record. */
  authorized(grant: Grant): Promise<void>;
}

export interface DebitSteps {
  /** The debit message, durable before it is sent. */
  debiting(facts: Omit<TargetFacts, "counter">, message: ValueMessage): Promise<void>;
}

export interface Completion {
  balanceAfter: number;
  /** Hex: S3, a debit proof, or the meter's transaction id. */
  proof: string;
}

/** Decided from the target's own record after an interruption (claim 002 F). */
export type RestoreDecision =
  /** The target's record holds exactly our message: it landed before the interruption. */
  | { kind: "applied"; completion: Completion }
  /** The message never landed and still can: send it again, unchanged. */
  | { kind: "resend" }
  /** The target moved on without our message: it can never land. */
  | { kind: "stale"; reason: string }
  /**
   * The target moved on past our message and its record no longer shows whether ours landed
   * first (a card keeps one last transaction): neither applied nor reversed, for reconciliation.
   */
  | { kind: "ambiguous"; reason: string }
  /** Not this transaction's target. */
  | { kind: "other-card" };

/**
 * One target (a card in a reader, a meter on its line) held exclusively for one step. Every answer
 * that decides an outcome is verified here (S3 by the authorizer, a meter's registers), so the
 * engine only journals what a target proved.
 */
export interface ValueTarget {
  /** Authenticates the target and obtains the authorization for an increase, calling `steps` in order. */
  authorize(tx: ValueTx, terms: Readonly<Record<string, string>>, steps: IncreaseSteps): Promise<void>;
  /** Authenticates the target and checks its funds for a debit. */
  prepareDebit(tx: ValueTx, steps: DebitSteps): Promise<void>;
  /** Sends the journaled message and verifies its completion. */
  send(tx: ValueTx): Promise<Completion>;
  /** Which target this is (re-authenticated), before restore looks for its transactions. */
  identify(): Promise<string>;
  /** Reads the target's own record of its last transaction and decides; a verified `applied` only. */
  inspect(tx: ValueTx): Promise<RestoreDecision>;
}

/** The authorizer's side of restore: looking up a lost answer and reporting reversals. */
export interface ValueAuthority {
  /** The latest authorization issued for this target at this counter, if any. */
  find(
    targetId: string,
    counter: number,
  ): Promise<{ authorizationId: number; status: "issued" | "applied" | "reversed" } | undefined>;
  /** Marks an authorization that will never be applied; repeating it succeeds. */
  reportReversal(authorizationId: number): Promise<void>;
  /** Ends an exchange given up on (`TargetFacts.authorizerRef`): nothing more is issued in it. */
  abandon(ref: string): Promise<void>;
}

/**
 * A family of devices the engine moves value on: the purse cards in the PC/SC readers, or the
 * postage meters. `where` names one device of the family (a reader, a meter).
 */
export interface ValueDevices {
  readonly name: string;
  readonly kinds: readonly ValueKind[];
  readonly authority: ValueAuthority;
  withTarget<T>(where: string, fn: (target: ValueTarget) => Promise<T>): Promise<T>;
  /** Devices where a target may be present now, for a restore attempt. */
  present(): string[];
  /** False for a device that never holds a target (the SAM's reader). */
  mayHold(where: string): boolean;
  /** Calls `listener` when a target may have appeared at `where` (or anywhere, for `null`). */
  onAppear(listener: (where: string | null) => void): void;
  /**
   * A token that changes whenever the target at `where` may have changed (a card inserted anew);
   * undefined where asking is cheap and harmless (a meter). Restore does not re-authenticate a
   * target it already identified under the same token.
   */
  presence?(where: string): string | undefined;
  /**
   * The family's own checks of a request (a refill's limit), run once the request id is claimed
   * and before anything is journaled, so that a request with a known id is answered by the ledger
   * whatever it asks. Throws a typed refusal.
   */
  check?(kind: ValueKind, req: { reader: string; amount: number; currency: number }): void;
}

export function isCardMessage(m: StoredMessage | null): m is ValueMessage {
  return m !== null && "terminalId" in m;
}

export function isRefillMessage(m: StoredMessage | null): m is RefillMessage {
  return m !== null && "txnId" in m;
}
