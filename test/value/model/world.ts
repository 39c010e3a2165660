import { createHash } from "node:crypto";
import { TermhostError } from "../../../src/errors/errors.js";
import { decideRestore } from "../../../src/purse/engine/restore-decision.js";
import type { TransactionRecord } from "../../../src/purse/messages/index.js";
import {
  type Completion,
  type DebitSteps,
  type IncreaseSteps,
  isCardMessage,
  type RestoreDecision,
  type ValueAuthority,
  type ValueDevices,
  type ValueTarget,
} from "../../../src/value/devices.js";
import type { ValueMessage, ValueTx } from "../../../src/value/records.js";

/**
 * A world of model cards, readers and an authorizer with the purse protocol's semantics, for the
 * value engine's model test: a card credits a message only at its own counter, keeps one last
 * transaction, and answers a resent CREDIT of its last one with the stored proof; the authorizer
 * issues, applies and reverses authorizations. Every call the engine makes into it is an "effect
 * point" where a fault may be injected.
 */
export const TERMINAL = "5445524d30303031";

export interface ModelCard {
  cardId: string;
  currency: number;
  balance: number;
  /** The next transaction's counter. */
  counter: number;
  last: TransactionRecord | null;
  /** Every credit and debit the card applied, by the engine or elsewhere. */
  applied: Array<{ type: "credit" | "debit"; counter: number; amount: number; by: "us" | "elsewhere" }>;
}

export interface Authorization {
  authorizationId: number;
  cardId: string;
  counter: number;
  amount: number;
  status: "issued" | "applied" | "reversed";
  reversals: number;
}

export type Fault = "throw-before" | "throw-after" | "crash";

/** Where the next fault goes: the `at`-th effect point (0-based) gets `fault`. */
export class FaultPlan {
  points: string[] = [];
  at = -1;
  fault: Fault = "throw-before";
  crashed = false;
  /** Effect points are counted from here: the journal's own opening is not one. */
  armed = false;
  /** Once crashed, every later effect of the dead engine fails without effect. */
  dead = false;
  onCrash: () => void = () => undefined;

  /** Runs an effect: `effect` changes the world, its result is returned unless the answer is lost. */
  async run<T>(name: string, effect: () => T | Promise<T>, transient: () => TermhostError): Promise<T> {
    if (this.dead) throw transient();
    if (!this.armed) return effect();
    const index = this.points.length;
    this.points.push(name);
    if (index !== this.at) return effect();
    if (this.fault === "throw-before") throw transient();
    if (this.fault === "throw-after") {
      await effect();
      throw transient();
    }
    // A crash: the effect may or may not have happened; here it did, and nobody hears of it.
    await effect();
    this.crashed = true;
    this.dead = true;
    this.onCrash();
    throw transient();
  }
}

const removed = () => new TermhostError("CARD_REMOVED", "the card was pulled (injected)");
const unreachable = () =>
  new TermhostError("AUTHORIZER_UNAVAILABLE", "the authorizer did not answer (injected)");

function proofOf(...parts: Array<string | number>): Buffer {
  return createHash("sha256").update(parts.join("/")).digest().subarray(0, 8);
}

export class World {
  readonly cards = new Map<string, ModelCard>();
  /** Reader → the card in it. */
  readonly slots = new Map<string, string | null>();
  readonly authorizations: Authorization[] = [];
  /** Calls of `present()`: one per restore sweep of the engine. */
  sweeps = 0;

  addCard(cardId: string, reader: string, balance = 5_000, currency = 978): ModelCard {
    const card: ModelCard = { cardId, currency, balance, counter: 1, last: null, applied: [] };
    this.cards.set(cardId, card);
    this.slots.set(reader, cardId);
    return card;
  }

  card(cardId: string): ModelCard {
    const c = this.cards.get(cardId);
    if (c === undefined) throw new Error(`no card ${cardId}`);
    return c;
  }

  /** A second terminal uses the card: one debit of 1 at its counter. */
  useElsewhere(cardId: string): void {
    const c = this.card(cardId);
    this.apply(c, "debit", 1, TERMINAL.replace(/^54/, "99"), Buffer.alloc(8), "elsewhere");
  }

  apply(
    c: ModelCard,
    type: "credit" | "debit",
    amount: number,
    terminalId: string,
    s2: Buffer,
    by: "us" | "elsewhere",
  ): TransactionRecord {
    c.balance += type === "credit" ? amount : -amount;
    const record: TransactionRecord = {
      type,
      counter: c.counter,
      amount,
      currency: c.currency,
      balanceAfter: c.balance,
      terminalId: Buffer.from(terminalId, "hex"),
      s2,
      proof: proofOf(c.cardId, c.counter, type, amount),
    };
    c.applied.push({ type, counter: c.counter, amount, by });
    c.last = record;
    c.counter += 1;
    return record;
  }

  cardAt(reader: string): ModelCard {
    const id = this.slots.get(reader);
    if (id === undefined || id === null) throw new TermhostError("CARD_ABSENT", `no card in '${reader}'`);
    return this.card(id);
  }

  authority(faults: FaultPlan): ValueAuthority {
    return {
      find: (targetId, counter) =>
        faults.run(
          "authority.find",
          () => {
            const a = this.authorizations
              .filter((x) => x.cardId === targetId && x.counter === counter)
              .at(-1);
            return a === undefined ? undefined : { authorizationId: a.authorizationId, status: a.status };
          },
          unreachable,
        ),
      reportReversal: (authorizationId) =>
        faults.run(
          "authority.reportReversal",
          () => {
            const a = this.authorizations[authorizationId];
            if (a === undefined)
              throw new TermhostError("VALUE_REFUSED", `no authorization ${authorizationId}`);
            if (a.status === "applied")
              throw new TermhostError("VALUE_REFUSED", `authorization ${authorizationId} is applied`);
            a.status = "reversed";
            a.reversals += 1;
          },
          unreachable,
        ),
      abandon: (ref) => faults.run(`authority.abandon ${ref}`, () => undefined, unreachable),
    };
  }

  /** The engine's view of the world for one incarnation of the daemon, faults by `faults`. */
  devices(faults: FaultPlan): ValueDevices {
    return {
      name: "card",
      kinds: ["load", "debit"],
      authority: this.authority(faults),
      withTarget: async (where, fn) => fn(new ModelTarget(this, where, faults)),
      present: () => {
        this.sweeps += 1;
        return [...this.slots].filter(([, id]) => id !== null).map(([r]) => r);
      },
      mayHold: () => true,
      onAppear: () => undefined,
      presence: (where) => {
        const id = this.slots.get(where);
        return id === undefined || id === null ? undefined : `${where}/${id}`;
      },
    };
  }
}

class ModelTarget implements ValueTarget {
  constructor(
    private readonly w: World,
    private readonly where: string,
    private readonly faults: FaultPlan,
  ) {}

  private get card(): ModelCard {
    return this.w.cardAt(this.where);
  }

  async authorize(
    tx: ValueTx,
    _terms: Readonly<Record<string, string>>,
    steps: IncreaseSteps,
  ): Promise<void> {
    const c = await this.faults.run("card.initializeLoad", () => ({ ...this.card }), removed);
    await steps.authorizing({ targetId: c.cardId, counter: c.counter, balanceBefore: c.balance });
    const grant = await this.faults.run(
      "authority.authorize",
      () => {
        const a: Authorization = {
          authorizationId: this.w.authorizations.length,
          cardId: c.cardId,
          counter: c.counter,
          amount: tx.amount,
          status: "issued",
          reversals: 0,
        };
        this.w.authorizations.push(a);
        return a;
      },
      unreachable,
    );
    await steps.authorized({
      authorizationId: grant.authorizationId,
      message: {
        counter: c.counter,
        amount: tx.amount,
        currency: c.currency,
        terminalId: TERMINAL,
        s2: proofOf("s2", grant.authorizationId).toString("hex"),
      },
    });
  }

  async prepareDebit(tx: ValueTx, steps: DebitSteps): Promise<void> {
    const c = await this.faults.run("card.readForDebit", () => ({ ...this.card }), removed);
    if (c.balance < tx.amount) throw new TermhostError("VALUE_REFUSED", "not enough on the card");
    await steps.debiting(
      { targetId: c.cardId, balanceBefore: c.balance },
      { counter: c.counter, amount: tx.amount, currency: tx.currency, terminalId: TERMINAL },
    );
  }

  async send(tx: ValueTx): Promise<Completion> {
    const m = tx.message;
    if (!isCardMessage(m)) throw new TermhostError("INTERNAL", "no card message");
    const record = await this.faults.run(
      `card.${tx.kind === "load" ? "credit" : "debit"}@${this.where}`,
      () => this.write(tx, m),
      removed,
    );
    if (tx.kind === "load" && tx.authorizationId !== null) {
      const id = tx.authorizationId;
      await this.complete(id);
    }
    return { balanceAfter: record.balanceAfter, proof: record.proof.toString("hex") };
  }

  /** The card's side of CREDIT and DEBIT: at its own counter only; a resend of its last answers the stored proof. */
  private write(tx: ValueTx, m: ValueMessage): TransactionRecord {
    const c = this.card;
    const type = tx.kind === "load" ? "credit" : "debit";
    const s2 = Buffer.from(m.s2 ?? "0000000000000000", "hex");
    const last = c.last;
    // A resend of the card's own last transaction is answered with its stored proof, not applied again.
    const same =
      last !== null &&
      last.counter === m.counter &&
      last.type === type &&
      last.amount === m.amount &&
      last.terminalId.toString("hex") === m.terminalId &&
      last.s2.equals(s2);
    if (same) return last;
    if (m.counter !== c.counter)
      throw new TermhostError("VALUE_REFUSED", `the card is at counter ${c.counter}`);
    return this.w.apply(c, type, m.amount, m.terminalId, s2, "us");
  }

  /** The authorizer's check of the card's proof: marks the authorization applied. */
  private complete(id: number): Promise<void> {
    return this.faults.run(
      "authority.verifyCompletion",
      () => {
        const a = this.w.authorizations[id];
        if (a === undefined || a.status === "reversed")
          throw new TermhostError("CARD_NOT_AUTHENTIC", "completion of a reversed authorization");
        a.status = "applied";
      },
      unreachable,
    );
  }

  identify(): Promise<string> {
    return this.faults.run(`card.identify@${this.where}`, () => this.card.cardId, removed);
  }

  async inspect(tx: ValueTx): Promise<RestoreDecision> {
    const c = await this.faults.run("card.readLastTransaction", () => ({ ...this.card }), removed);
    const d = decideRestore(tx, { cardId: c.cardId, counter: c.counter, last: c.last });
    if (d.kind !== "applied") return d;
    if (tx.kind === "load" && tx.authorizationId !== null) {
      const id = tx.authorizationId;
      await this.complete(id);
    }
    return { kind: "applied", completion: { balanceAfter: d.balanceAfter, proof: d.proof.toString("hex") } };
  }
}
