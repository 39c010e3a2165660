import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import type { Authorizer } from "../../authorize/authorizer.js";
import { isTermhostError, TermhostError } from "../../errors/errors.js";
import type { Journal, RecordInput } from "../../journal/index.js";
import type { ReaderManager } from "../../pcsc/reader-manager.js";
import { PurseCardOps } from "./card.js";
import { isOpen, type ValueRecords, type ValueState, type ValueTx } from "./records.js";
import { type CardFacts, decideRestore } from "./restore-decision.js";

export interface ValueLimits {
  /** A load may not take a card's balance above this (minor units). */
  maxBalance: number;
  maxSingleLoad: number;
  maxSingleDebit: number;
  /** Loads this terminal may authorize per UTC day, in total. */
  dailyLoadTotal: number;
}

export interface ValueEngineOptions {
  journal: Journal<ValueRecords, ValueState, unknown>;
  readers: ReaderManager;
  authorizer: Authorizer;
  /** The SAM's reader, which holds no purse to restore. */
  samReader: () => string | undefined;
  terminalId: Buffer;
  currencies: readonly number[];
  limits: ValueLimits;
  /** While transactions wait for restore, how often to try again without a card event. */
  retryMs: number;
  log: Logger;
}

export interface ValueRequest {
  reader: string;
  amount: number;
  currency: number;
  requestId: string;
}

type Events = {
  transaction: [tx: ValueTx, step: string];
  "restore.pending": [tx: ValueTx];
  "restore.completed": [tx: ValueTx];
};

function errorOf(e: unknown): TermhostError {
  return e instanceof TermhostError
    ? e
    : new TermhostError("INTERNAL", e instanceof Error ? e.message : String(e), { cause: e });
}

const now = (): string => new Date().toISOString();
const hex = (b: Buffer): string => b.toString("hex");

/**
 * The load engine (claim 002 D–F) and purchases. Each step of a transaction is journaled before it
 * is acted on; an interrupted transaction is restored from its journaled message on card
 * re-insertion, reader or pcscd return, daemon start, or a timer — exactly once, or ended `failed`
 * with its authorization reported for reversal.
 */
export class ValueEngine extends EventEmitter<Events> {
  private readonly running = new Map<string, Promise<void>>();
  private readonly busyReaders = new Set<string>();
  /** Why an open transaction is waiting; live only, since the journal records what was decided. */
  private readonly waitingBecause = new Map<string, { code: string; message: string }>();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private refusing = false;

  private journal: ValueEngineOptions["journal"];

  constructor(private readonly o: ValueEngineOptions) {
    super();
    this.journal = o.journal;
  }

  /**
   * A journal reopened after a write failure (a full disk): it holds every committed record, so the
   * engine carries on from it; open transactions are retried against it at once.
   */
  replaceJournal(journal: ValueEngineOptions["journal"]): void {
    this.journal = journal;
    this.restoreEverywhere();
  }

  get state(): ValueState {
    return this.journal.state;
  }

  start(): void {
    this.o.readers.on("card-inserted", (view) => this.restoreOn(view.name));
    this.o.readers.on("service-up", () => this.restoreEverywhere());
    this.restoreEverywhere();
  }

  /** Shutdown: new value requests are refused; transactions in flight go on to a settled or restorable state. */
  refuseNew(): void {
    this.refusing = true;
  }

  stop(): void {
    this.stopped = true;
    this.refusing = true;
    clearTimeout(this.retryTimer);
  }

  /** Waits for everything in flight (a graceful stop lets exchanges finish). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }

  find(q: { txId?: string; requestId?: string }): ValueTx | undefined {
    const id = q.txId ?? (q.requestId === undefined ? undefined : this.state.byRequest.get(q.requestId));
    return id === undefined ? undefined : this.state.txs.get(id);
  }

  isRunning(txId: string): boolean {
    return this.running.has(txId);
  }

  increase(req: ValueRequest): Promise<ValueTx> {
    return this.submit("load", req);
  }

  debit(req: ValueRequest): Promise<ValueTx> {
    return this.submit("debit", req);
  }

  private async submit(kind: "load" | "debit", req: ValueRequest): Promise<ValueTx> {
    const existing = this.find({ requestId: req.requestId });
    if (existing !== undefined) {
      const same =
        existing.kind === kind &&
        existing.reader === req.reader &&
        existing.amount === req.amount &&
        existing.currency === req.currency;
      if (!same) {
        throw new TermhostError(
          "REQUEST_CONFLICT",
          `request ${req.requestId} was already used for another transaction`,
          {
            hint: "use a new requestId for a new transaction; resend the same parameters to get the first one back",
            context: { txId: existing.txId },
          },
        );
      }
      await this.running.get(existing.txId);
      return this.view(existing.txId);
    }
    if (this.refusing) {
      throw new TermhostError("BUSY", "the daemon is shutting down", {
        hint: "retry when it is back; transactions already accepted are kept",
      });
    }
    this.checkRequest(kind, req);
    if (this.busyReaders.has(req.reader)) {
      throw new TermhostError("BUSY", `a transaction is in progress on '${req.reader}'`, {
        hint: "wait for it to finish (value.status) and try again",
      });
    }
    const txId = `vtx-${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;
    // Claimed before the first await, so two requests for one reader cannot both start.
    this.busyReaders.add(req.reader);
    let run: Promise<void> | undefined;
    try {
      await this.append({ type: "value.requested", body: { txId, kind, ...req, at: now() } });
      run = kind === "load" ? this.runLoad(txId) : this.runDebit(txId);
      this.running.set(txId, run);
      await run;
    } catch (e) {
      // The run threw: the journal refused the record that would have settled it (a full disk).
      // The transaction stays open and says why until the retry below settles it.
      if (run !== undefined && isOpen(this.tx(txId)))
        this.waitingBecause.set(txId, { code: errorOf(e).code, message: errorOf(e).message });
      throw e;
    } finally {
      if (run !== undefined) this.running.delete(txId);
      this.busyReaders.delete(req.reader);
      // Also when the run threw: an open transaction always has the retry timer behind it.
      this.scheduleRetry();
    }
    // A card that is still there (a bad proof, a glitch) is asked at once what happened.
    if (isOpen(this.tx(txId))) this.restoreOn(req.reader);
    return this.view(txId);
  }

  private checkRequest(kind: "load" | "debit", req: ValueRequest): void {
    const { limits } = this.o;
    if (!this.o.currencies.includes(req.currency)) {
      throw new TermhostError("VALUE_REFUSED", `currency ${req.currency} is not accepted by this terminal`, {
        hint: "see value.currencies in the configuration",
      });
    }
    const max = kind === "load" ? limits.maxSingleLoad : limits.maxSingleDebit;
    if (req.amount > max) {
      throw new TermhostError("LIMIT_EXCEEDED", `${req.amount} is above the single ${kind} limit of ${max}`, {
        context: { limit: max },
      });
    }
    if (kind === "load") {
      const day = new Date().toISOString().slice(0, 10);
      let total = 0;
      for (const tx of this.state.txs.values()) {
        if (tx.kind === "load" && tx.phase !== "failed" && tx.createdAt.startsWith(day)) total += tx.amount;
      }
      if (total + req.amount > limits.dailyLoadTotal) {
        throw new TermhostError(
          "LIMIT_EXCEEDED",
          `this load would take today's loads to ${total + req.amount}`,
          {
            hint: `the terminal's daily load total is ${limits.dailyLoadTotal}`,
            context: { limit: limits.dailyLoadTotal, today: total },
          },
        );
      }
    }
  }

  private tx(txId: string): ValueTx {
    const tx = this.state.txs.get(txId);
    if (tx === undefined) throw new TermhostError("INTERNAL", `transaction ${txId} vanished from the ledger`);
    return tx;
  }

  private view(txId: string): ValueTx {
    const tx = this.tx(txId);
    return isOpen(tx) ? { ...tx, error: this.waitingBecause.get(txId) ?? null } : { ...tx };
  }

  private async append(record: RecordInput<ValueRecords>): Promise<void> {
    await this.journal.append(record.type, record.body as never);
    const txId = (record.body as { txId: string }).txId;
    if (!isOpen(this.tx(txId))) this.waitingBecause.delete(txId);
    this.emit("transaction", this.view(txId), record.type);
  }

  private async fail(txId: string, e: TermhostError, reversal: ValueTx["reversal"]): Promise<void> {
    if (e.code === "CARD_NOT_AUTHENTIC" || e.code === "APDU_MALFORMED") {
      this.o.log.error(
        { txId, cardId: this.tx(txId).cardId, code: e.code, err: e.message },
        "card answer refused: it does not verify; possible counterfeit card",
      );
    }
    await this.append({
      type: "value.failed",
      body: { txId, code: e.code, message: e.message, reversal, at: now() },
    });
  }

  /** Authenticate → authorize → journal the restore record → CREDIT → verify S3 → close. */
  private async runLoad(txId: string): Promise<void> {
    const tx = this.tx(txId);
    const { authorizer, terminalId, readers, limits } = this.o;
    try {
      await readers.withCard(tx.reader, "exclusive", async (channel) => {
        const card = new PurseCardOps(channel.transmit);
        await card.select();
        await authorizer.session(async (session) => {
          const answer = await card.authenticate(await session.challenge());
          await session.verifyAuthentication(answer);
          this.refuseWhileRestoreOpen(hex(answer.cardId), txId);
          const init = await card.initializeLoad(tx.amount, tx.currency, terminalId);
          if (!init.cardId.equals(answer.cardId) || init.counter !== answer.counter) {
            throw new TermhostError(
              "CARD_MISMATCH",
              "the card changed between AUTHENTICATE and INITIALIZE LOAD",
              {
                hint: "re-insert the card and try again",
              },
            );
          }
          if (init.balance + tx.amount > limits.maxBalance) {
            throw new TermhostError(
              "LIMIT_EXCEEDED",
              `the card's balance would exceed ${limits.maxBalance}`,
              {
                context: { balance: init.balance, limit: limits.maxBalance },
              },
            );
          }
          await this.append({
            type: "value.authorizing",
            body: {
              txId,
              cardId: hex(init.cardId),
              counter: init.counter,
              balanceBefore: init.balance,
              at: now(),
            },
          });
          const grant = await session.authorize({ amount: tx.amount, terminalId, init });
          await this.append({
            type: "value.authorized",
            body: {
              txId,
              authorizationId: grant.authorizationId,
              message: {
                counter: init.counter,
                amount: tx.amount,
                currency: init.currency,
                terminalId: hex(terminalId),
                s2: hex(grant.s2),
              },
              at: now(),
            },
          });
        });
        await this.sendCredit(txId, card, null);
      });
    } catch (e) {
      await this.afterError(txId, errorOf(e));
    }
  }

  /** Authenticate → journal the debit message → DEBIT → close. */
  private async runDebit(txId: string): Promise<void> {
    const tx = this.tx(txId);
    const { authorizer, terminalId, readers } = this.o;
    try {
      await readers.withCard(tx.reader, "exclusive", async (channel) => {
        const card = new PurseCardOps(channel.transmit);
        await card.select();
        const answer = await authorizer.session(async (session) => {
          const a = await card.authenticate(await session.challenge());
          await session.verifyAuthentication(a);
          return a;
        });
        this.refuseWhileRestoreOpen(hex(answer.cardId), txId);
        const facts = await card.readLastTransaction();
        if (facts.counter !== answer.counter) {
          throw new TermhostError("CARD_MISMATCH", "the card's counter changed during the purchase");
        }
        if (facts.balance < tx.amount) {
          throw new TermhostError(
            "VALUE_REFUSED",
            `the card holds ${facts.balance}, less than ${tx.amount}`,
            {
              hint: "load the card first",
              context: { balance: facts.balance },
            },
          );
        }
        await this.append({
          type: "value.debiting",
          body: {
            txId,
            cardId: hex(answer.cardId),
            balanceBefore: facts.balance,
            message: {
              counter: answer.counter,
              amount: tx.amount,
              currency: tx.currency,
              terminalId: hex(terminalId),
            },
            at: now(),
          },
        });
        await this.sendDebit(txId, card, null);
      });
    } catch (e) {
      await this.afterError(txId, errorOf(e));
    }
  }

  private refuseWhileRestoreOpen(cardId: string, txId: string): void {
    for (const other of this.state.txs.values()) {
      if (
        other.txId !== txId &&
        other.cardId === cardId &&
        (other.phase === "authorized" || other.phase === "debiting")
      ) {
        throw new TermhostError("BUSY", "this card has an interrupted transaction that is being restored", {
          hint: "keep the card in the reader until value.status shows the earlier transaction settled",
          context: { restoring: other.txId },
        });
      }
    }
  }

  private async sendCredit(txId: string, card: PurseCardOps, restored: "resent" | null): Promise<void> {
    const tx = this.tx(txId);
    const m = tx.message;
    if (m?.s2 === undefined || tx.authorizationId === null)
      throw new TermhostError("INTERNAL", "no stored credit");
    const answer = await card.credit({
      counter: m.counter,
      amount: m.amount,
      currency: m.currency,
      terminalId: Buffer.from(m.terminalId, "hex"),
      s2: Buffer.from(m.s2, "hex"),
    });
    // Only the authorizer's check of S3 makes this a success: a bare or forged answer is not.
    await this.o.authorizer.verifyCompletion(tx.authorizationId, answer.balanceAfter, answer.s3);
    await this.append({
      type: "value.applied",
      body: { txId, balanceAfter: answer.balanceAfter, proof: hex(answer.s3), restored, at: now() },
    });
  }

  private async sendDebit(txId: string, card: PurseCardOps, restored: "resent" | null): Promise<void> {
    const m = this.tx(txId).message;
    if (m === null) throw new TermhostError("INTERNAL", "no stored debit");
    const answer = await card.debit({
      counter: m.counter,
      amount: m.amount,
      currency: m.currency,
      terminalId: Buffer.from(m.terminalId, "hex"),
    });
    if (
      answer.counter !== m.counter ||
      answer.balanceAfter !== (this.tx(txId).balanceBefore ?? -1) - m.amount
    ) {
      throw new TermhostError("CARD_NOT_AUTHENTIC", "the card's DEBIT answer does not match the debit sent");
    }
    await this.append({
      type: "value.applied",
      body: { txId, balanceAfter: answer.balanceAfter, proof: hex(answer.proof), restored, at: now() },
    });
  }

  /**
   * Before the restore record exists nothing can land: the transaction fails. After it, only the
   * card can tell: the transaction waits for restore. In between (authorizing) the authorizer may
   * have issued an authorization whose answer was lost; restore finds it and reports it.
   */
  private async afterError(txId: string, e: TermhostError): Promise<void> {
    const tx = this.tx(txId);
    this.o.log.warn({ txId, phase: tx.phase, code: e.code, err: e.message }, "value transaction interrupted");
    switch (tx.phase) {
      case "requested":
        await this.fail(txId, e, null);
        return;
      case "authorizing":
        if (e.code === "AUTHORIZATION_DECLINED" || e.code === "CARD_NOT_AUTHENTIC")
          await this.fail(txId, e, null);
        else await this.settleAuthorizing(txId, e);
        return;
      case "authorized":
      case "debiting":
        this.waitingBecause.set(txId, { code: e.code, message: e.message });
        this.emit("restore.pending", this.view(txId));
        return;
      default:
        return;
    }
  }

  /** An authorization may exist without its id in the journal: find it and report it for reversal. */
  private async settleAuthorizing(txId: string, cause: TermhostError): Promise<void> {
    const tx = this.tx(txId);
    if (tx.cardId === null || tx.counter === null) return;
    try {
      const found = await this.o.authorizer.find(Buffer.from(tx.cardId, "hex"), tx.counter);
      if (found === undefined) {
        await this.fail(txId, cause, null);
        return;
      }
      if (found.status === "applied") {
        this.o.log.error(
          { txId, authorizationId: found.authorizationId },
          "authorization applied without a CREDIT from this terminal",
        );
      }
      if (found.status === "issued") await this.o.authorizer.reportReversal(found.authorizationId);
      await this.fail(txId, cause, {
        authorizationId: found.authorizationId,
        reported: found.status !== "applied",
      });
    } catch (e) {
      this.waitingBecause.set(txId, { code: errorOf(e).code, message: errorOf(e).message });
      this.emit("restore.pending", this.view(txId));
    }
  }

  private openTxs(): ValueTx[] {
    return [...this.state.txs.values()].filter((tx) => isOpen(tx) && !this.running.has(tx.txId));
  }

  private restoreEverywhere(): void {
    if (this.stopped) return;
    for (const tx of this.openTxs()) {
      if (tx.phase === "requested") {
        void this.guard(tx.txId, () =>
          this.fail(
            tx.txId,
            new TermhostError("INTERRUPTED", "interrupted before the card was authenticated"),
            null,
          ),
        );
      } else if (tx.phase === "authorizing") {
        void this.guard(tx.txId, () =>
          this.settleAuthorizing(
            tx.txId,
            new TermhostError("INTERRUPTED", "interrupted while asking for an authorization"),
          ),
        );
      }
    }
    const sam = this.o.samReader();
    for (const r of this.o.readers.list()) {
      if (r.card === "present" && r.name !== sam) this.restoreOn(r.name);
    }
    this.scheduleRetry();
  }

  /** Runs `fn` as the transaction's work, so nothing else touches it meanwhile. */
  private async guard(txId: string, fn: () => Promise<void>): Promise<void> {
    if (this.running.has(txId)) return;
    const p = fn().catch((e: unknown) => this.o.log.error({ txId, err: e }, "restore step failed"));
    this.running.set(txId, p);
    try {
      await p;
    } finally {
      this.running.delete(txId);
    }
  }

  /** A card appeared (or may be there): if it is the card of an open transaction, settle it. */
  restoreOn(reader: string): void {
    if (this.stopped || reader === this.o.samReader()) return;
    const waiting = this.openTxs().filter((tx) => tx.phase === "authorized" || tx.phase === "debiting");
    if (waiting.length === 0) return;
    if (this.busyReaders.has(reader)) {
      this.o.log.debug({ reader }, "restore waits: the reader is busy");
      return;
    }
    this.o.log.debug({ reader, waiting: waiting.map((tx) => tx.txId) }, "restore attempt");
    this.busyReaders.add(reader);
    const run = this.restoreCard(reader, waiting)
      .catch((e: unknown) =>
        this.o.log.warn({ reader, err: errorOf(e).message }, "restore attempt failed; will retry"),
      )
      .finally(() => {
        this.busyReaders.delete(reader);
        this.scheduleRetry();
      });
    void run;
  }

  private async restoreCard(reader: string, waiting: ValueTx[]): Promise<void> {
    await this.o.readers.withCard(reader, "exclusive", async (channel) => {
      const card = new PurseCardOps(channel.transmit);
      await card.select();
      const answer = await this.o.authorizer.session(async (session) => {
        const a = await card.authenticate(await session.challenge());
        await session.verifyAuthentication(a);
        return a;
      });
      const cardId = hex(answer.cardId);
      const mine = waiting.filter((tx) => tx.cardId === cardId && !this.running.has(tx.txId));
      for (const tx of mine) {
        let settle: (() => void) | undefined;
        const marker = new Promise<void>((resolve) => {
          settle = resolve;
        });
        this.running.set(tx.txId, marker);
        try {
          await this.restoreOne(tx.txId, card);
        } finally {
          this.running.delete(tx.txId);
          settle?.();
        }
      }
    });
  }

  private async restoreOne(txId: string, card: PurseCardOps): Promise<void> {
    const tx = this.tx(txId);
    const read = await card.readLastTransaction();
    const facts: CardFacts = { cardId: tx.cardId ?? "", counter: read.counter, last: read.last };
    const decision = decideRestore(tx, facts);
    this.o.log.info({ txId, decision: decision.kind }, "restore decision");
    const authorizationId = tx.authorizationId;
    try {
      switch (decision.kind) {
        case "other-card":
          return;
        case "applied":
          if (tx.kind === "load" && authorizationId !== null) {
            await this.o.authorizer.verifyCompletion(authorizationId, decision.balanceAfter, decision.proof);
          }
          await this.append({
            type: "value.applied",
            body: {
              txId,
              balanceAfter: decision.balanceAfter,
              proof: hex(decision.proof),
              restored: "already-applied",
              at: now(),
            },
          });
          break;
        case "resend":
          if (tx.kind === "load") await this.sendCredit(txId, card, "resent");
          else await this.sendDebit(txId, card, "resent");
          break;
        case "stale":
          await this.endStale(txId, decision.reason);
          break;
      }
    } catch (e) {
      const err = errorOf(e);
      if (err.code === "CARD_NOT_AUTHENTIC" || err.code === "APDU_MALFORMED") {
        // The card's answer does not verify (or is no answer, like a bare 9000): a card that
        // cannot prove what it did is not asked again; its authorization is reported.
        await this.endWithReversal(txId, err);
        return;
      }
      throw err;
    }
    this.emit("restore.completed", this.view(txId));
  }

  private async endStale(txId: string, reason: string): Promise<void> {
    await this.endWithReversal(
      txId,
      new TermhostError("VALUE_REFUSED", `the stored message can no longer land: ${reason}`, {
        hint: "the authorization is reported for reversal; start a new load",
      }),
    );
  }

  private async endWithReversal(txId: string, e: TermhostError): Promise<void> {
    const tx = this.tx(txId);
    let reversal: ValueTx["reversal"] = null;
    if (tx.kind === "load" && tx.authorizationId !== null) {
      let reported = false;
      try {
        await this.o.authorizer.reportReversal(tx.authorizationId);
        reported = true;
      } catch (re) {
        this.o.log.warn({ txId, err: errorOf(re).message }, "reversal not reported yet; will retry");
      }
      reversal = { authorizationId: tx.authorizationId, reported };
    }
    await this.fail(txId, e, reversal);
    this.emit("restore.completed", this.view(txId));
  }

  /** Reversals that could not be reported yet, and transactions waiting for their card. */
  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const pending = [...this.state.txs.values()].some(
      (tx) => isOpen(tx) || (tx.reversal !== null && !tx.reversal.reported),
    );
    if (!pending) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retryReversals().finally(() => this.restoreEverywhere());
    }, this.o.retryMs);
    this.retryTimer.unref();
  }

  private async retryReversals(): Promise<void> {
    for (const tx of this.state.txs.values()) {
      if (tx.reversal === null || tx.reversal.reported) continue;
      try {
        await this.o.authorizer.reportReversal(tx.reversal.authorizationId);
        await this.append({ type: "value.reversal-reported", body: { txId: tx.txId, at: now() } });
      } catch (e) {
        if (isTermhostError(e, "AUTHORIZER_UNAVAILABLE")) return;
        // Refused (e.g. the authorizer holds it as applied): a contradiction for a technician.
        this.o.log.error({ txId: tx.txId, err: errorOf(e).message }, "the authorizer refused a reversal");
      }
    }
  }
}
