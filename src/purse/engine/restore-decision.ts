import { isCardMessage } from "../../value/devices.js";
import type { ValueTx } from "../../value/records.js";
import type { TransactionRecord } from "../messages/index.js";

/** What the card says about itself after re-insertion: READ LAST TRANSACTION, checked by AUTHENTICATE. */
export interface CardFacts {
  cardId: string;
  /** The card's counter now: the last transaction's counter + 1. */
  counter: number;
  last: TransactionRecord | null;
}

export type RestoreDecision =
  /** The card's log holds exactly our message: it landed before the interruption. */
  | { kind: "applied"; balanceAfter: number; proof: Buffer }
  /** The card is still at our counter: the message never landed; send it again, unchanged. */
  | { kind: "resend" }
  /** The card moved on without our message: the stored message can never land. */
  | { kind: "stale"; reason: string }
  /** The card moved on past our counter: whether ours landed first, its log no longer shows. */
  | { kind: "ambiguous"; reason: string }
  /** Not this transaction's card. */
  | { kind: "other-card" };

/**
 * Claim 002 (F): decides from the card's own record, never by guessing. A pure function so every
 * branch is tested without a card.
 */
export function decideRestore(tx: ValueTx, card: CardFacts): RestoreDecision {
  const m = tx.message;
  if (tx.cardId !== card.cardId || !isCardMessage(m)) return { kind: "other-card" };
  const l = card.last;
  const ours =
    l !== null &&
    l.counter === m.counter &&
    l.amount === m.amount &&
    l.currency === m.currency &&
    l.terminalId.toString("hex") === m.terminalId &&
    (tx.kind === "load" ? l.type === "credit" && l.s2.toString("hex") === m.s2 : l.type === "debit");
  if (ours && l !== null) return { kind: "applied", balanceAfter: l.balanceAfter, proof: l.proof };
  if (card.counter === m.counter) return { kind: "resend" };
  if (card.counter < m.counter) {
    return {
      kind: "stale",
      reason: `the card's counter ${card.counter} is behind the message's ${m.counter}`,
    };
  }
  const what = tx.kind === "load" ? "credit" : "debit";
  // At counter + 1 the card's last transaction took our counter: ours never landed. Further on,
  // the one record the card keeps is a later one, and ours may have landed before it.
  if (card.counter === m.counter + 1) {
    return {
      kind: "stale",
      reason: `the card spent counter ${m.counter} on another transaction, not this ${what}`,
    };
  }
  return {
    kind: "ambiguous",
    reason: `the card moved on to counter ${card.counter}; its log no longer shows whether this ${what} (counter ${m.counter}) landed`,
  };
}
