import type { DesfireAuthorizer } from "../../authorize/authorizer.js";
import type { CardFamily } from "../../cards/card-family.js";
import { TermhostError } from "../../errors/errors.js";
import type { CardChannel } from "../../pcsc/reader-manager.js";
import type {
  Completion,
  DebitSteps,
  IncreaseSteps,
  RestoreDecision,
  ValueTarget,
} from "../../value/devices.js";
import type { ValueTx } from "../../value/records.js";
import { desfireCardId } from "./card-id.js";
import type { DesfireCardOps, LogEntry } from "./card-ops.js";
import { KEY_CREDIT, KEY_DEBIT } from "./keys.js";
import { decideDesfireRestore, entryOf, proofOf } from "./restore-decision.js";

export interface DesfireFamilyOptions {
  authorizer: DesfireAuthorizer;
  terminalId: Buffer;
  /** The currency the application's value file counts in (ISO 4217 numeric). */
  currency: number;
  /** A load may not take a card's balance above this (nor above the value file's upper limit). */
  maxBalance: number;
  /** The card protocol over a card channel (the secure-messaging session). */
  ops: (channel: CardChannel) => DesfireCardOps;
}

/**
 * A DESFire EV1/EV2/EV3 behind a PC/SC contactless reader: PC/SC part 3 builds the ATR from the
 * card's ATS, whose one historical byte is 80 (device-profiles/cards/mifare-desfire.json). Other
 * ISO 14443-4 cards (the purse among them) begin the same way and differ in their historical bytes.
 */
const DESFIRE_ATRS = new Set(["3B8180018080"]);

const hex = (b: Buffer): string => b.toString("hex");

/**
 * MIFARE DESFire EV1/EV2 cards holding termhost's value-file application: a credit or debit and
 * its log entry are one DESFire transaction, committed together, so the card's own log decides a
 * restore. The SAM runs every authentication's cryptography and authorizes each credit.
 */
export class DesfireFamily implements CardFamily {
  readonly name = "desfire";

  constructor(private readonly o: DesfireFamilyOptions) {}

  claims(atr: string | null): boolean {
    return atr !== null && DESFIRE_ATRS.has(atr);
  }

  target(channel: CardChannel): ValueTarget {
    return new DesfireTarget(this.o.ops(channel), this.o);
  }
}

interface CardView {
  cardId: Buffer;
  balance: number;
  log: LogEntry[];
  counter: number;
}

class DesfireTarget implements ValueTarget {
  constructor(
    private readonly card: DesfireCardOps,
    private readonly o: DesfireFamilyOptions,
  ) {}

  /** SELECT → UID → authenticate through the SAM with `keyNo` → value and log, all MAC-checked. */
  private async open(keyNo: number): Promise<CardView> {
    await this.card.selectApplication();
    const cardId = desfireCardId(await this.card.uid());
    await this.o.authorizer.desfireSession((s) => this.card.authenticate(keyNo, s.keyHolder(cardId)));
    const balance = await this.card.getValue();
    const log = await this.card.readLog();
    return { cardId, balance, log, counter: log.reduce((n, e) => Math.max(n, e.seq), 0) };
  }

  async authorize(
    tx: ValueTx,
    _terms: Readonly<Record<string, string>>,
    steps: IncreaseSteps,
  ): Promise<void> {
    if (tx.currency !== this.o.currency) {
      throw new TermhostError(
        "VALUE_REFUSED",
        `the card keeps currency ${this.o.currency}, not ${tx.currency}`,
        {
          hint: "load the card in its own currency",
          context: { cardCurrency: this.o.currency, requested: tx.currency },
        },
      );
    }
    const { terminalId } = this.o;
    await this.card.selectApplication();
    const cardId = desfireCardId(await this.card.uid());
    // The SAM is held from the card's authentication to the authorization: it issues one only for a
    // card that proved its key in this session.
    await this.o.authorizer.desfireSession(async (session) => {
      await this.card.authenticate(KEY_CREDIT, session.keyHolder(cardId));
      const balance = await this.card.getValue();
      const limit = Math.min(this.o.maxBalance, await this.card.upperLimit());
      if (balance + tx.amount > limit) {
        throw new TermhostError("LIMIT_EXCEEDED", `the card's balance would exceed ${limit}`, {
          context: { balance, limit },
        });
      }
      const counter = (await this.card.readLog()).reduce((n, e) => Math.max(n, e.seq), 0);
      await steps.authorizing({ targetId: hex(cardId), counter, balanceBefore: balance });
      const grant = await session.authorize({
        cardId,
        counter,
        balance,
        amount: tx.amount,
        currency: tx.currency,
        terminalId,
      });
      await steps.authorized({
        authorizationId: grant.authorizationId,
        message: {
          counter,
          amount: tx.amount,
          currency: tx.currency,
          terminalId: hex(terminalId),
          s2: hex(grant.s2),
        },
      });
    });
  }

  async prepareDebit(tx: ValueTx, steps: DebitSteps): Promise<void> {
    if (tx.currency !== this.o.currency) {
      throw new TermhostError(
        "VALUE_REFUSED",
        `the card keeps currency ${this.o.currency}, not ${tx.currency}`,
      );
    }
    const view = await this.open(KEY_DEBIT);
    if (view.balance < tx.amount) {
      throw new TermhostError("VALUE_REFUSED", `the card holds ${view.balance}, less than ${tx.amount}`, {
        hint: "load the card first",
        context: { balance: view.balance },
      });
    }
    await steps.debiting(
      { targetId: hex(view.cardId), balanceBefore: view.balance },
      { counter: view.counter, amount: tx.amount, currency: tx.currency, terminalId: hex(this.o.terminalId) },
    );
  }

  /**
   * Credit or Debit and the log entry, then CommitTransaction, in one session of the key the
   * operation needs. Sent only to the card it was authorized for, while its log still ends where it
   * did: anything else leaves the transaction to restore.
   */
  async send(tx: ValueTx): Promise<Completion> {
    const entry = entryOf(tx);
    if (entry === undefined) throw new TermhostError("INTERNAL", `no stored DESFire message for ${tx.txId}`);
    const load = tx.kind === "load";
    const view = await this.open(load ? KEY_CREDIT : KEY_DEBIT);
    if (hex(view.cardId) !== tx.cardId) {
      throw new TermhostError("CARD_MISMATCH", "another card is in the reader", {
        hint: "insert the card the transaction was started with",
      });
    }
    if (view.counter !== entry.seq - 1 || view.balance !== tx.balanceBefore) {
      throw new TermhostError("CARD_MISMATCH", "the card moved on since it was authorized", {
        context: { counter: view.counter, expected: entry.seq - 1 },
      });
    }
    if (load) await this.card.credit(entry.amount);
    else await this.card.debit(entry.amount);
    await this.card.writeLog(entry);
    await this.card.commit();
    const after = await this.card.getValue();
    if (after !== entry.balanceAfter) {
      throw new TermhostError(
        "CARD_NOT_AUTHENTIC",
        `the card's value after commit is ${after}, not ${entry.balanceAfter}`,
      );
    }
    if (load && tx.authorizationId !== null) {
      await this.o.authorizer.verifyDesfireCompletion(tx.authorizationId, after, entry.authMac);
    }
    return { balanceAfter: after, proof: proofOf(tx, entry) };
  }

  async identify(): Promise<string> {
    await this.card.selectApplication();
    return hex(desfireCardId(await this.card.uid()));
  }

  /** The card's log, read under the debit key's session MAC, decides. */
  async inspect(tx: ValueTx): Promise<RestoreDecision> {
    const view = await this.open(KEY_DEBIT);
    const d = decideDesfireRestore(tx, hex(view.cardId), view.log);
    if (d.kind === "applied" && tx.kind === "load" && tx.authorizationId !== null) {
      await this.o.authorizer.verifyDesfireCompletion(
        tx.authorizationId,
        d.completion.balanceAfter,
        Buffer.from(d.completion.proof, "hex"),
      );
    }
    return d;
  }
}
