import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import type { Journal, RecordInput } from "../journal/index.js";
import type { ValueDevices, ValueTarget } from "./devices.js";
import { isOpen, type ValueKind, type ValueRecords, type ValueState, type ValueTx } from "./records.js";

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
  /** Currencies and limits of card loads and debits; a refill's currency is its meter's. */
  currencies: readonly number[];
  limits: ValueLimits;
  /** While transactions wait for restore, how often to try again without a device event. */
  retryMs: number;
  log: Logger;
}

export interface ValueRequest {
  /** The reader holding the card, or the meter to refill. */
  reader: string;
  amount: number;
  currency: number;
  requestId: string;
  /**
   * Terms the target's authorization is bound to beyond the amount (a refill's next inspection
   * date, a vendor authorization obtained by the caller). Held only while the transaction runs:
   * one interrupted before its restore record is journaled ends failed.
   */
  terms?: Readonly<Record<string, string>>;
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

/**
 * The value engine (claim 002 D–F): card loads, purchases and meter refills. Each step of a
 * transaction is journaled before it is acted on; an interrupted transaction is restored from its
 * journaled message when its target comes back (card re-insertion, reader or pcscd return, meter
 * reconnection), at daemon start, or on a timer — exactly once, or ended `failed` with its
 * authorization reported for reversal. What differs between a card and a meter lives behind
 * `ValueDevices`; the order of journal writes and sends lives here, once.
 */
export class ValueEngine extends EventEmitter<Events> {
  private readonly running = new Map<string, Promise<void>>();
  /** Devices in use, as `family/where`. */
  private readonly busyDevices = new Set<string>();
  private readonly families = new Map<ValueKind, ValueDevices>();
  private readonly terms = new Map<string, Readonly<Record<string, string>>>();
  /** Why an open transaction is waiting; live only, since the journal records what was decided. */
  private readonly waitingBecause = new Map<string, { code: string; message: string }>();
  private retryTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private refusing = false;

  private journal: ValueEngineOptions["journal"];

  constructor(private readonly o: ValueEngineOptions) {
    super();
    this.journal = o.journal;
  }

  /** Adds a family of devices; each kind of transaction belongs to one family. */
  addDevices(devices: ValueDevices): void {
    for (const kind of devices.kinds) this.families.set(kind, devices);
    devices.onAppear((where) => {
      if (where === null) this.restoreEverywhere();
      else this.restoreOn(where, devices);
    });
    if (this.started) this.restoreEverywhere();
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
    this.started = true;
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

  /** A postage meter refill: a value increase like a load, authorized by the meter's vendor. */
  refill(req: ValueRequest): Promise<ValueTx> {
    return this.submit("refill", req);
  }

  /** Resolves once the transaction is closed, or after `ms`; never rejects. */
  settled(txId: string, ms: number): Promise<ValueTx | undefined> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.off("transaction", onStep);
        resolve(this.find({ txId }));
      };
      const onStep = (tx: ValueTx): void => {
        if (tx.txId === txId && !isOpen(tx)) done();
      };
      const timer = setTimeout(done, ms);
      this.on("transaction", onStep);
      const tx = this.find({ txId });
      if (tx === undefined || !isOpen(tx)) done();
    });
  }

  private async submit(kind: ValueKind, req: ValueRequest): Promise<ValueTx> {
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
    const family = this.family(kind);
    if (kind !== "refill") this.checkRequest(kind, req);
    const device = `${family.name}/${req.reader}`;
    if (this.busyDevices.has(device)) {
      throw new TermhostError("BUSY", `a transaction is in progress on '${req.reader}'`, {
        hint: "wait for it to finish (value.status) and try again",
      });
    }
    const txId = `vtx-${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;
    // Claimed before the first await, so two requests for one device cannot both start.
    this.busyDevices.add(device);
    let run: Promise<void> | undefined;
    const { terms, ...journaled } = req;
    try {
      await this.append({ type: "value.requested", body: { txId, kind, ...journaled, at: now() } });
      if (terms !== undefined) this.terms.set(txId, terms);
      run = kind === "debit" ? this.runDebit(txId) : this.runIncrease(txId);
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
      this.terms.delete(txId);
      this.busyDevices.delete(device);
      // Also when the run threw: an open transaction always has the retry timer behind it.
      this.scheduleRetry();
    }
    // A target that is still there (a bad proof, a glitch) is asked at once what happened.
    if (isOpen(this.tx(txId))) this.restoreOn(req.reader, family);
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

  private family(kind: ValueKind): ValueDevices {
    const f = this.families.get(kind);
    if (f === undefined)
      throw new TermhostError("INTERNAL", `no device takes ${kind} transactions`, {
        hint: kind === "refill" ? "configure a postage meter" : "configure the value service",
      });
    return f;
  }

  private familyOf(txId: string): ValueDevices {
    return this.family(this.tx(txId).kind);
  }

  /** Authenticate → authorize → journal the restore record → send → verify the completion → close. */
  private async runIncrease(txId: string): Promise<void> {
    const tx = this.tx(txId);
    try {
      await this.family(tx.kind).withTarget(tx.reader, async (target) => {
        await target.authorize(tx, this.terms.get(txId) ?? {}, {
          authorizing: async (facts) => {
            this.refuseWhileRestoreOpen(facts.targetId, txId, true);
            await this.append({
              type: "value.authorizing",
              body: {
                txId,
                cardId: facts.targetId,
                counter: facts.counter,
                balanceBefore: facts.balanceBefore,
                ...(facts.authorizerRef === undefined ? {} : { authorizerRef: facts.authorizerRef }),
                at: now(),
              },
            });
          },
          authorized: (grant) =>
            this.append({
              type: "value.authorized",
              body: { txId, authorizationId: grant.authorizationId, message: grant.message, at: now() },
            }),
        });
        await this.sendAndClose(txId, target, null);
      });
    } catch (e) {
      await this.afterError(txId, errorOf(e));
    }
  }

  /** Authenticate → journal the debit message → DEBIT → close. */
  private async runDebit(txId: string): Promise<void> {
    const tx = this.tx(txId);
    try {
      await this.family(tx.kind).withTarget(tx.reader, async (target) => {
        await target.prepareDebit(tx, {
          debiting: async (facts, message) => {
            this.refuseWhileRestoreOpen(facts.targetId, txId, false);
            await this.append({
              type: "value.debiting",
              body: { txId, cardId: facts.targetId, balanceBefore: facts.balanceBefore, message, at: now() },
            });
          },
        });
        await this.sendAndClose(txId, target, null);
      });
    } catch (e) {
      await this.afterError(txId, errorOf(e));
    }
  }

  /**
   * One open transaction per card past authentication. For an increase, an earlier one still
   * `authorizing` counts too: settling it looks the authorization up by card and counter, and must
   * not find this one's. A debit issues no authorization and moves the counter, so it may go on.
   */
  private refuseWhileRestoreOpen(cardId: string, txId: string, increase: boolean): void {
    for (const other of this.state.txs.values()) {
      if (other.txId === txId || other.cardId !== cardId) continue;
      if (other.phase === "authorized" || other.phase === "debiting")
        throw new TermhostError("BUSY", "this card has an interrupted transaction that is being restored", {
          hint: "keep the card in the reader until value.status shows the earlier transaction settled",
          context: { restoring: other.txId },
        });
      if (increase && other.phase === "authorizing")
        throw new TermhostError("BUSY", "an earlier increase on this card waits for its authorizer", {
          hint: "the earlier authorization is settled once the authorizer answers; value.status shows it",
          context: { restoring: other.txId },
        });
    }
  }

  private async sendAndClose(txId: string, target: ValueTarget, restored: "resent" | null): Promise<void> {
    const done = await target.send(this.tx(txId));
    await this.append({
      type: "value.applied",
      body: { txId, balanceAfter: done.balanceAfter, proof: done.proof, restored, at: now() },
    });
  }

  /**
   * Before the restore record exists nothing can land: the transaction fails. After it, only the
   * card can tell: the transaction waits for restore. In between (authorizing) the authorizer may
   * have issued an authorization whose answer was lost; restore finds it and reports it.
   */
  private async afterError(txId: string, e: TermhostError): Promise<void> {
    const tx = this.tx(txId);
    this.o.log.warn(
      { txId, kind: tx.kind, phase: tx.phase, code: e.code, err: e.message },
      "value transaction interrupted",
    );
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
        // A meter that refuses the refill outright (a bad authorization) never takes it later.
        if (e.code === "METER_REFUSED") {
          await this.endWithReversal(txId, e);
          return;
        }
        this.waitingBecause.set(txId, { code: e.code, message: e.message });
        this.emit("restore.pending", this.view(txId));
        return;
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
    const { authority } = this.familyOf(txId);
    try {
      // A request still held at the authorizer could commit after the lookup; ended first, it cannot.
      if (tx.authorizerRef !== null) await authority.abandon(tx.authorizerRef);
      const found = await authority.find(tx.cardId, tx.counter);
      if (found === undefined) {
        await this.fail(txId, cause, null);
        return;
      }
      if (found.status === "applied") {
        this.o.log.error(
          { txId, authorizationId: found.authorizationId },
          "authorization applied without a message from this terminal",
        );
      }
      if (found.status === "issued") await authority.reportReversal(found.authorizationId);
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
      if (!this.families.has(tx.kind)) continue;
      if (tx.phase === "requested") {
        void this.guard(tx.txId, () =>
          this.fail(
            tx.txId,
            new TermhostError("INTERRUPTED", "interrupted before the target was authenticated"),
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
    for (const family of new Set(this.families.values()))
      for (const where of family.present()) this.restoreOn(where, family);
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

  /**
   * A technician's "try now": every device of the transaction's family where a target may be
   * present is asked (a card may have moved to another reader; restore identifies it by its id).
   */
  retryNow(txId: string): string[] {
    const tx = this.find({ txId });
    const family = tx === undefined ? undefined : this.families.get(tx.kind);
    if (tx === undefined || family === undefined || !isOpen(tx)) return [];
    const places = family.present();
    for (const where of places) this.restoreOn(where, family);
    return places;
  }

  /**
   * A target appeared (or may be there) at `where`: if it is the target of an open transaction of
   * that family, settle it. Cards are identified by their id, not their slot.
   */
  restoreOn(where: string, family: ValueDevices | undefined = this.families.get("load")): void {
    if (this.stopped || family === undefined || !family.mayHold(where)) return;
    const waiting = this.openTxs().filter(
      (tx) => (tx.phase === "authorized" || tx.phase === "debiting") && this.families.get(tx.kind) === family,
    );
    if (waiting.length === 0) return;
    const device = `${family.name}/${where}`;
    if (this.busyDevices.has(device)) {
      this.o.log.debug({ where }, "restore waits: the device is busy");
      return;
    }
    this.o.log.debug({ where, waiting: waiting.map((tx) => tx.txId) }, "restore attempt");
    this.busyDevices.add(device);
    const run = this.restoreTarget(family, where, waiting)
      .catch((e: unknown) =>
        this.o.log.warn({ where, err: errorOf(e).message }, "restore attempt failed; will retry"),
      )
      .finally(() => {
        this.busyDevices.delete(device);
        this.scheduleRetry();
      });
    void run;
  }

  private async restoreTarget(family: ValueDevices, where: string, waiting: ValueTx[]): Promise<void> {
    await family.withTarget(where, async (target) => {
      const targetId = await target.identify();
      const mine = waiting.filter((tx) => tx.cardId === targetId && !this.running.has(tx.txId));
      for (const tx of mine) {
        let settle: (() => void) | undefined;
        const marker = new Promise<void>((resolve) => {
          settle = resolve;
        });
        this.running.set(tx.txId, marker);
        try {
          await this.restoreOne(tx.txId, target);
        } finally {
          this.running.delete(tx.txId);
          settle?.();
        }
      }
    });
  }

  private async restoreOne(txId: string, target: ValueTarget): Promise<void> {
    try {
      const decision = await target.inspect(this.tx(txId));
      this.o.log.info({ txId, decision: decision.kind }, "restore decision");
      switch (decision.kind) {
        case "other-card":
          return;
        case "applied":
          await this.append({
            type: "value.applied",
            body: {
              txId,
              balanceAfter: decision.completion.balanceAfter,
              proof: decision.completion.proof,
              restored: "already-applied",
              at: now(),
            },
          });
          break;
        case "resend":
          await this.sendAndClose(txId, target, "resent");
          break;
        case "stale":
          await this.endStale(txId, decision.reason);
          break;
      }
    } catch (e) {
      const err = errorOf(e);
      if (
        err.code === "CARD_NOT_AUTHENTIC" ||
        err.code === "APDU_MALFORMED" ||
        err.code === "METER_REFUSED"
      ) {
        // The target's answer does not verify (or is no answer, like a bare 9000), or the meter
        // refuses the stored refill: it is not asked again; its authorization is reported.
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
        hint: "the authorization is reported for reversal; start a new transaction",
      }),
    );
  }

  private async endWithReversal(txId: string, e: TermhostError): Promise<void> {
    const tx = this.tx(txId);
    let reversal: ValueTx["reversal"] = null;
    if (tx.kind !== "debit" && tx.authorizationId !== null) {
      let reported = false;
      try {
        await this.familyOf(txId).authority.reportReversal(tx.authorizationId);
        reported = true;
      } catch (re) {
        this.o.log.warn({ txId, err: errorOf(re).message }, "reversal not reported yet; will retry");
      }
      reversal = { authorizationId: tx.authorizationId, reported };
    }
    await this.fail(txId, e, reversal);
    this.emit("restore.completed", this.view(txId));
  }

  /** Reversals that could not be reported yet, and transactions waiting for their target. */
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
      const family = this.families.get(tx.kind);
      if (family === undefined) continue;
      try {
        await family.authority.reportReversal(tx.reversal.authorizationId);
        await this.append({ type: "value.reversal-reported", body: { txId: tx.txId, at: now() } });
      } catch (e) {
        if (isTermhostError(e, "AUTHORIZER_UNAVAILABLE")) continue;
        // Refused (e.g. the authorizer holds it as applied): a contradiction for a technician.
        this.o.log.error({ txId: tx.txId, err: errorOf(e).message }, "the authorizer refused a reversal");
      }
    }
  }
}
