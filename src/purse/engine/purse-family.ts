import type { Authorizer } from "../../authorize/authorizer.js";
import type { CardFamily } from "../../cards/card-family.js";
import { TermhostError } from "../../errors/errors.js";
import type { CardChannel } from "../../pcsc/reader-manager.js";
import {
  type Completion,
  type DebitSteps,
  type IncreaseSteps,
  isCardMessage,
  type RestoreDecision,
  type ValueAuthority,
  type ValueTarget,
} from "../../value/devices.js";
import type { ValueMessage, ValueTx } from "../../value/records.js";
import { PurseCardOps } from "./card.js";
import { decideRestore } from "./restore-decision.js";

export interface PurseFamilyOptions {
  authorizer: Authorizer;
  terminalId: Buffer;
  /** A load may not take a card's balance above this. */
  maxBalance: number;
}

const hex = (b: Buffer): string => b.toString("hex");

function cardMessage(tx: ValueTx): ValueMessage {
  if (!isCardMessage(tx.message))
    throw new TermhostError("INTERNAL", `no stored card message for ${tx.txId}`);
  return tx.message;
}

/** The value engine's view of an authorizer's ledger: looking up, reversing, abandoning. */
export function authorityOf(authorizer: Authorizer): ValueAuthority {
  return {
    find: (targetId: string, counter: number) => authorizer.find(Buffer.from(targetId, "hex"), counter),
    reportReversal: async (authorizationId: number) => {
      await authorizer.reportReversal(authorizationId);
    },
    abandon: (ref: string) => authorizer.abandon(ref),
  };
}

/**
 * termhost's own purse cards: loads (claim 002) and purchases, authorized by the SAM or the issuer
 * host. It claims every card, so it goes last: a card of no other family is spoken to as a purse,
 * and refused by SELECT when it is none.
 */
export class PurseFamily implements CardFamily {
  readonly name = "purse";

  constructor(private readonly o: PurseFamilyOptions) {}

  claims(): boolean {
    return true;
  }

  target(channel: CardChannel): ValueTarget {
    return new CardTarget(new PurseCardOps(channel.transmit), this.o);
  }
}

class CardTarget implements ValueTarget {
  private selected = false;

  constructor(
    private readonly card: PurseCardOps,
    private readonly o: PurseFamilyOptions,
  ) {}

  private async select(): Promise<void> {
    if (this.selected) return;
    await this.card.select();
    this.selected = true;
  }

  /** AUTHENTICATE → INITIALIZE LOAD → authorizing → the authorizer checks S1, issues S2 → authorized. */
  async authorize(
    tx: ValueTx,
    _terms: Readonly<Record<string, string>>,
    steps: IncreaseSteps,
  ): Promise<void> {
    const { authorizer, terminalId, maxBalance } = this.o;
    await this.select();
    await authorizer.session(async (session) => {
      const answer = await this.card.authenticate(await session.challenge());
      await session.verifyAuthentication(answer);
      const init = await this.card.initializeLoad(tx.amount, tx.currency, terminalId);
      if (!init.cardId.equals(answer.cardId) || init.counter !== answer.counter) {
        throw new TermhostError(
          "CARD_MISMATCH",
          "the card changed between AUTHENTICATE and INITIALIZE LOAD",
          {
            hint: "re-insert the card and try again",
          },
        );
      }
      // A load is asked for in one currency; a card that keeps another must not take it as this one.
      if (init.currency !== tx.currency) {
        throw new TermhostError(
          "VALUE_REFUSED",
          `the card keeps currency ${init.currency}, not the ${tx.currency} of this load`,
          {
            hint: "load the card in its own currency",
            context: { cardCurrency: init.currency, requested: tx.currency },
          },
        );
      }
      if (init.balance + tx.amount > maxBalance) {
        throw new TermhostError("LIMIT_EXCEEDED", `the card's balance would exceed ${maxBalance}`, {
          context: { balance: init.balance, limit: maxBalance },
        });
      }
      const ref = session.ref();
      await steps.authorizing({
        targetId: hex(init.cardId),
        counter: init.counter,
        balanceBefore: init.balance,
        ...(ref === null ? {} : { authorizerRef: ref }),
      });
      const grant = await session.authorize({ amount: tx.amount, terminalId, init });
      await steps.authorized({
        authorizationId: grant.authorizationId,
        message: {
          counter: init.counter,
          amount: tx.amount,
          currency: init.currency,
          terminalId: hex(terminalId),
          s2: hex(grant.s2),
        },
      });
    });
  }

  async prepareDebit(tx: ValueTx, steps: DebitSteps): Promise<void> {
    const answer = await this.authenticate();
    const facts = await this.card.readLastTransaction();
    if (facts.counter !== answer.counter) {
      throw new TermhostError("CARD_MISMATCH", "the card's counter changed during the purchase");
    }
    if (facts.balance < tx.amount) {
      throw new TermhostError("VALUE_REFUSED", `the card holds ${facts.balance}, less than ${tx.amount}`, {
        hint: "load the card first",
        context: { balance: facts.balance },
      });
    }
    await steps.debiting(
      { targetId: hex(answer.cardId), balanceBefore: facts.balance },
      {
        counter: answer.counter,
        amount: tx.amount,
        currency: tx.currency,
        terminalId: hex(this.o.terminalId),
      },
    );
  }

  send(tx: ValueTx): Promise<Completion> {
    return tx.kind === "load" ? this.credit(tx) : this.debit(tx);
  }

  /** CREDIT; only the authorizer's check of S3 makes it a success: a bare or forged answer is not. */
  private async credit(tx: ValueTx): Promise<Completion> {
    const m = cardMessage(tx);
    if (m.s2 === undefined || tx.authorizationId === null)
      throw new TermhostError("INTERNAL", "no stored credit");
    await this.select();
    const answer = await this.card.credit({
      counter: m.counter,
      amount: m.amount,
      currency: m.currency,
      terminalId: Buffer.from(m.terminalId, "hex"),
      s2: Buffer.from(m.s2, "hex"),
    });
    await this.o.authorizer.verifyCompletion(tx.authorizationId, answer.balanceAfter, answer.s3);
    return { balanceAfter: answer.balanceAfter, proof: hex(answer.s3) };
  }

  private async debit(tx: ValueTx): Promise<Completion> {
    const m = cardMessage(tx);
    await this.select();
    const answer = await this.card.debit({
      counter: m.counter,
      amount: m.amount,
      currency: m.currency,
      terminalId: Buffer.from(m.terminalId, "hex"),
    });
    if (answer.counter !== m.counter || answer.balanceAfter !== (tx.balanceBefore ?? -1) - m.amount) {
      throw new TermhostError("CARD_NOT_AUTHENTIC", "the card's DEBIT answer does not match the debit sent");
    }
    return { balanceAfter: answer.balanceAfter, proof: hex(answer.proof) };
  }

  private async authenticate() {
    await this.select();
    return this.o.authorizer.session(async (session) => {
      const a = await this.card.authenticate(await session.challenge());
      await session.verifyAuthentication(a);
      return a;
    });
  }

  async identify(): Promise<string> {
    return hex((await this.authenticate()).cardId);
  }

  /** READ LAST TRANSACTION decides (claim 002 F); an `applied` credit is verified by the authorizer. */
  async inspect(tx: ValueTx): Promise<RestoreDecision> {
    const read = await this.card.readLastTransaction();
    const d = decideRestore(tx, { cardId: tx.cardId ?? "", counter: read.counter, last: read.last });
    if (d.kind !== "applied") return d;
    if (tx.kind === "load" && tx.authorizationId !== null)
      await this.o.authorizer.verifyCompletion(tx.authorizationId, d.balanceAfter, d.proof);
    return { kind: "applied", completion: { balanceAfter: d.balanceAfter, proof: hex(d.proof) } };
  }
}
