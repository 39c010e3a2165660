import { timingSafeEqual } from "node:crypto";
import {
  type AuthenticateResponse,
  type AuthorizationRecord,
  type InitializeLoadResponse,
  mac8,
  macInput,
  purseCardKey,
  verifyMac8,
} from "../../../src/purse/messages/index.js";
import type { Ledger, LedgerEntry } from "./ledger.js";

/**
 * The authorizer's rules (claim 002 B), free of transport: the SAM answers them in status words,
 * the issuer host simulator in HTTP. Both hold the master key and check every card MAC the same way,
 * so the two authorizers cannot drift apart. Functions return a new ledger to persist, never mutate.
 */

/** A card whose authentication verified against a challenge the authorizer issued. */
export interface VerifiedCard {
  cardId: Buffer;
  counter: number;
  terminalChallenge: Buffer;
}

/** The card's answer checked against the outstanding challenge; undefined when its MAC fails. */
export function verifyCardAuthentication(
  masterKey: Buffer,
  terminalChallenge: Buffer,
  answer: AuthenticateResponse,
): VerifiedCard | undefined {
  const key = purseCardKey(masterKey, answer.cardId);
  if (!verifyMac8(key, macInput.authentication({ ...answer, terminalChallenge }), answer.mac)) {
    return undefined;
  }
  return { cardId: answer.cardId, counter: answer.counter, terminalChallenge };
}

export interface IssueRequest {
  amount: number;
  terminalId: Buffer;
  card: InitializeLoadResponse;
}

/** The terms an S2 is bound to. */
export interface AuthorizationTerms {
  cardId: Buffer;
  counter: number;
  amount: number;
  currency: number;
  terminalId: Buffer;
}

export type IssueOutcome =
  | { kind: "not-verified" }
  | { kind: "s1-invalid" }
  | { kind: "conflict"; open: LedgerEntry }
  | { kind: "declined" }
  | { kind: "existing"; entry: LedgerEntry }
  | { kind: "issued"; entry: LedgerEntry; next: Ledger };

/**
 * VERIFY S1 AND ISSUE S2. `approve` is the issuer's own policy, asked only before a new
 * authorization: one already issued for the same terms is returned whatever the policy says now,
 * because it already exists.
 */
export function issueAuthorization(
  masterKey: Buffer,
  ledger: Ledger,
  verified: VerifiedCard | undefined,
  request: IssueRequest,
  now: string,
  approve: (terms: AuthorizationTerms) => boolean = () => true,
): IssueOutcome {
  const { amount, terminalId, card } = request;
  if (verified === undefined || !verified.cardId.equals(card.cardId) || verified.counter !== card.counter) {
    return { kind: "not-verified" };
  }
  const key = purseCardKey(masterKey, card.cardId);
  const s1Input = macInput.s1({ ...card, amount, terminalId, terminalChallenge: verified.terminalChallenge });
  if (!verifyMac8(key, s1Input, card.s1)) return { kind: "s1-invalid" };
  const terms: AuthorizationTerms = {
    cardId: card.cardId,
    counter: card.counter,
    amount,
    currency: card.currency,
    terminalId,
  };
  return grantAuthorization(masterKey, ledger, terms, now, approve);
}

export type GrantOutcome = Exclude<IssueOutcome, { kind: "not-verified" } | { kind: "s1-invalid" }>;

/**
 * Issues an authorization for terms a card proved (its S1, or a DESFire card's authentication):
 * one open authorization per card and counter. S2 is the issuer's MAC over the terms under the
 * card's key, so it is the same for the same terms.
 */
export function grantAuthorization(
  masterKey: Buffer,
  ledger: Ledger,
  terms: AuthorizationTerms,
  now: string,
  approve: (terms: AuthorizationTerms) => boolean = () => true,
): GrantOutcome {
  const open = ledger.entries.find(
    (e) => e.status === "issued" && e.cardId.equals(terms.cardId) && e.counter === terms.counter,
  );
  if (open !== undefined) {
    // A second request for the same card, counter and terms is the same authorization; different
    // terms wait until the open one is reversed.
    const same =
      open.amount === terms.amount &&
      open.currency === terms.currency &&
      open.terminalId.equals(terms.terminalId);
    return same ? { kind: "existing", entry: open } : { kind: "conflict", open };
  }
  if (!approve(terms)) return { kind: "declined" };
  const entry: LedgerEntry = {
    authorizationId: ledger.nextAuthorizationId,
    status: "issued",
    ...terms,
    s2: mac8(purseCardKey(masterKey, terms.cardId), macInput.s2(terms)),
    issuedAt: now,
    updatedAt: now,
  };
  return {
    kind: "issued",
    entry,
    next: { nextAuthorizationId: ledger.nextAuthorizationId + 1, entries: [...ledger.entries, entry] },
  };
}

export type CompletionOutcome =
  | { kind: "not-found" }
  | { kind: "s3-invalid" }
  | { kind: "reversed"; entry: LedgerEntry }
  | { kind: "already-applied"; entry: LedgerEntry }
  | { kind: "applied"; entry: LedgerEntry; next: Ledger };

/** VERIFY COMPLETION: S3 recomputed from the authorizer's own record, never from the caller's terms. */
export function completeAuthorization(
  masterKey: Buffer,
  ledger: Ledger,
  authorizationId: number,
  balanceAfter: number,
  s3: Buffer,
  now: string,
): CompletionOutcome {
  const entry = ledger.entries.find((e) => e.authorizationId === authorizationId);
  if (entry === undefined) return { kind: "not-found" };
  const key = purseCardKey(masterKey, entry.cardId);
  if (!verifyMac8(key, macInput.s3({ ...entry, balanceAfter }), s3)) return { kind: "s3-invalid" };
  return markApplied(ledger, entry, balanceAfter, now);
}

/**
 * A DESFire credit's completion: the terminal read the card's log record back under the session
 * MAC and reports the authorization MAC it holds; it must be the one this authorization carries.
 */
export function completeDesfireAuthorization(
  ledger: Ledger,
  authorizationId: number,
  balanceAfter: number,
  authMac: Buffer,
  now: string,
): CompletionOutcome {
  const entry = ledger.entries.find((e) => e.authorizationId === authorizationId);
  if (entry === undefined) return { kind: "not-found" };
  if (authMac.length !== entry.s2.length || !timingSafeEqual(authMac, entry.s2))
    return { kind: "s3-invalid" };
  return markApplied(ledger, entry, balanceAfter, now);
}

function markApplied(
  ledger: Ledger,
  entry: LedgerEntry,
  balanceAfter: number,
  now: string,
): CompletionOutcome {
  // A verified completion is the card's word that the credit happened: a reversed authorization
  // that verifies is a contradiction the terminal must escalate, not something to paper over.
  if (entry.status === "reversed") return { kind: "reversed", entry };
  if (entry.status === "applied") return { kind: "already-applied", entry };
  const updated: LedgerEntry = { ...entry, status: "applied", balanceAfter, updatedAt: now };
  return { kind: "applied", entry: updated, next: replaceEntry(ledger, updated) };
}

export type ReversalOutcome =
  | { kind: "not-found" }
  | { kind: "applied"; entry: LedgerEntry }
  | { kind: "already-reversed"; entry: LedgerEntry }
  | { kind: "reversed"; entry: LedgerEntry; next: Ledger };

/** REPORT FOR REVERSAL: idempotent; an applied authorization cannot be taken back. */
export function reverseAuthorization(ledger: Ledger, authorizationId: number, now: string): ReversalOutcome {
  const entry = ledger.entries.find((e) => e.authorizationId === authorizationId);
  if (entry === undefined) return { kind: "not-found" };
  if (entry.status === "applied") return { kind: "applied", entry };
  if (entry.status === "reversed") return { kind: "already-reversed", entry };
  const updated: LedgerEntry = { ...entry, status: "reversed", updatedAt: now };
  return { kind: "reversed", entry: updated, next: replaceEntry(ledger, updated) };
}

export function authorizationById(ledger: Ledger, authorizationId: number): LedgerEntry | undefined {
  return ledger.entries.find((e) => e.authorizationId === authorizationId);
}

/** The latest authorization for a card at a counter: what a terminal that lost the id asks for. */
export function findAuthorization(ledger: Ledger, cardId: Buffer, counter: number): LedgerEntry | undefined {
  return ledger.entries.findLast((e) => e.cardId.equals(cardId) && e.counter === counter);
}

export function recordOf(e: LedgerEntry): AuthorizationRecord {
  return {
    authorizationId: e.authorizationId,
    status: e.status,
    cardId: e.cardId,
    counter: e.counter,
    amount: e.amount,
    currency: e.currency,
    terminalId: e.terminalId,
    s2: e.s2,
  };
}

function replaceEntry(ledger: Ledger, updated: LedgerEntry): Ledger {
  return {
    ...ledger,
    entries: ledger.entries.map((e) => (e.authorizationId === updated.authorizationId ? updated : e)),
  };
}
