import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import type { Journal, RecordInput } from "../journal/index.js";
import { Backoff } from "./backoff.js";
import { checkCardRequest, type ValueLimits } from "./checks.js";
import type { ValueDevices, ValueTarget } from "./devices.js";
import { loadTotalKey } from "./ledger-index.js";
import { type ReversalOutcome, type ValueEffect, type ValueEvent, valueStep } from "./machine.js";
import { isOpen, type ValueKind, type ValueRecords, type ValueState, type ValueTx } from "./records.js";
import { RequestClaims } from "./request-claims.js";
import { RestoreSweep } from "./restore-sweep.js";

export type { ValueLimits } from "./checks.js";

export interface ValueEngineOptions {
  journal: Journal<ValueRecords, ValueState, unknown>;
  /** Currencies and limits of card loads and debits; a refill's currency is its meter's. */
  currencies: readonly number[];
  limits: ValueLimits;
  /** While transactions wait for restore, how often to try again without a device event. */
  retryMs: number;
  log: Logger;
  /** The longest pause between tries on one device or at one reversal (default 60 s). */
  maxRetryMs?: number;
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

/** Answers after which the authorizer may take the reversal later. */
const TRANSIENT = new Set([
  "AUTHORIZER_UNAVAILABLE",
  "TIMEOUT",
  "BUSY",
  "READER_UNAVAILABLE",
  "PCSC_UNAVAILABLE",
  "CARD_ABSENT",
  "CARD_REMOVED",
]);

const now = (): string => new Date().toISOString();

/**
 * The value engine (claim 002 D–F): card loads, purchases and meter refills. Each step of a
 * transaction is journaled before it is acted on; an interrupted transaction is restored from its
 * journaled message when its target comes back (card re-insertion, reader or pcscd return, meter
 * reconnection), at daemon start, or on a timer — exactly once, ended `failed` with its
 * authorization reported for reversal, or closed `unresolved` for reconciliation when the target's
 * record cannot tell. What to do after each event is decided by `valueStep` (machine.ts); what
 * differs between a card and a meter lives behind `ValueDevices`; this class runs the steps.
 */
export class ValueEngine extends EventEmitter<Events> {
  private readonly running = new Map<string, Promise<void>>();
  private readonly claims = new RequestClaims();
  /** Devices in use, as `family/where`. */
  private readonly busyDevices = new Set<string>();
  private readonly families = new Map<ValueKind, ValueDevices>();
  private readonly terms = new Map<string, Readonly<Record<string, string>>>();
  /** Why an open transaction is waiting; live only, since the journal records what was decided. */
  private readonly waitingBecause = new Map<string, { code: string; message: string }>();
  private readonly sweep: RestoreSweep;
  private readonly reversalRetry: Backoff<string>;
  private retryTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private refusing = false;

  private journal: ValueEngineOptions["journal"];

  constructor(private readonly o: ValueEngineOptions) {
    super();
    this.journal = o.journal;
    const max = o.maxRetryMs ?? Math.min(60_000, 4 * o.retryMs);
    this.sweep = new RestoreSweep(o.retryMs, max);
    this.reversalRetry = new Backoff(o.retryMs, max);
  }

  /** Adds a family of devices; each kind of transaction belongs to one family. */
  addDevices(devices: ValueDevices): void {
    for (const kind of devices.kinds) this.families.set(kind, devices);
    devices.onAppear((where) => {
      // The authorizer's own device (the SAM) coming back may unblock every waiting restore.
      if (where === null || !devices.mayHold(where)) {
        this.sweep.retryAll();
        this.restoreEverywhere();
      } else this.restoreOn(where, devices);
    });
    if (this.started) this.restoreEverywhere();
  }

  /**
   * A journal reopened after a write failure: it holds every committed record, and only it can say
   * whether the write that failed reached the disk. The engine carries on from what it re-read.
   */
  replaceJournal(journal: ValueEngineOptions["journal"]): void {
    this.journal = journal;
    this.sweep.clear();
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

  /** Whether the ledger holds this request id, or a request with it is starting. */
  knows(requestId: string): boolean {
    return this.state.byRequest.has(requestId) || this.claims.pending(requestId) !== undefined;
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

  /**
   * A technician closes an open transaction whose target will not come back: `unresolved`, nothing
   * reported for reversal, left to the issuer's reconciliation (a transaction not yet past
   * `requested` simply fails). Refused while the transaction is being worked on.
   */
  async writeOff(txId: string, note: string): Promise<ValueTx> {
    const tx = this.find({ txId });
    if (tx === undefined)
      throw new TermhostError("TRANSACTION_NOT_FOUND", `no transaction ${txId}`, {
        hint: "list open transactions with admin.restore.list",
      });
    if (!isOpen(tx))
      throw new TermhostError("VALUE_REFUSED", `transaction ${txId} is already ${tx.phase}`, {
        hint: "only an open transaction can be written off",
      });
    if (this.running.has(txId))
      throw new TermhostError("BUSY", `transaction ${txId} is being worked on`, {
        hint: "try again in a moment; value.status shows it",
      });
    this.refuseWhileJournalFailed();
    const run = this.drive(txId, { type: "write-off", note }, true);
    this.running.set(
      txId,
      run.catch(() => undefined),
    );
    try {
      await run;
    } finally {
      this.running.delete(txId);
    }
    this.o.log.warn({ txId, note }, "transaction written off by a technician; reconcile it with the issuer");
    return this.view(txId);
  }

  private submit(kind: ValueKind, req: ValueRequest): Promise<ValueTx> {
    const first = this.claims.pending(req.requestId);
    if (first !== undefined) {
      const again = (): Promise<ValueTx> => this.submit(kind, req);
      return first.then(again, again);
    }
    const existing = this.find({ requestId: req.requestId });
    if (existing !== undefined) return this.replay(kind, req, existing);
    const day = new Date().toISOString().slice(0, 10);
    const load = kind === "load" ? req.amount : 0;
    return this.claims.claim(req.requestId, load, loadTotalKey(day, req.currency), () =>
      this.begin(kind, req, day),
    );
  }

  private async replay(kind: ValueKind, req: ValueRequest, existing: ValueTx): Promise<ValueTx> {
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

  private async begin(kind: ValueKind, req: ValueRequest, day: string): Promise<ValueTx> {
    let journaled = false;
    const release = (): void => this.claims.release(req.requestId);
    try {
      if (this.refusing) {
        throw new TermhostError("BUSY", "the daemon is shutting down", {
          hint: "retry when it is back; transactions already accepted are kept",
        });
      }
      this.refuseWhileJournalFailed();
      const family = this.family(kind);
      if (kind !== "refill") {
        checkCardRequest(kind, req, {
          currencies: this.o.currencies,
          limits: this.o.limits,
          state: this.state,
          inFlight: this.claims.inFlight(loadTotalKey(day, req.currency), req.requestId),
          day,
        });
      }
      family.check?.(kind, req);
      const device = `${family.name}/${req.reader}`;
      if (this.busyDevices.has(device)) {
        throw new TermhostError("BUSY", `a transaction is in progress on '${req.reader}'`, {
          hint: "wait for it to finish (value.status) and try again",
        });
      }
      const txId = `vtx-${Date.now().toString(36)}-${randomBytes(5).toString("hex")}`;
      this.busyDevices.add(device);
      let run: Promise<void> | undefined;
      const { terms, ...fields } = req;
      try {
        await this.append({ type: "value.requested", body: { txId, kind, ...fields, at: now() } });
        journaled = true;
        // From here the ledger answers for the requestId; a duplicate waits on `running` instead.
        release();
        if (terms !== undefined) this.terms.set(txId, terms);
        run = kind === "debit" ? this.runDebit(txId) : this.runIncrease(txId);
        this.running.set(txId, run);
        await run;
      } catch (e) {
        // The run threw: the journal refused the record that would have settled it.
        // The transaction stays open and says why until the retry below settles it.
        if (run !== undefined && isOpen(this.tx(txId))) this.waitingBecause.set(txId, this.reason(e));
        throw e;
      } finally {
        if (run !== undefined) this.running.delete(txId);
        this.terms.delete(txId);
        this.busyDevices.delete(device);
        // Also when the run threw: an open transaction always has the retry timer behind it.
        this.scheduleRetry();
      }
      // A target that is still there (a bad proof, a glitch) is asked at once what happened.
      if (isOpen(this.tx(txId))) this.restoreOn(req.reader, family, true);
      return this.view(txId);
    } finally {
      if (!journaled) release();
    }
  }

  private reason(e: unknown): { code: string; message: string } {
    const err = errorOf(e);
    return { code: err.code, message: err.message };
  }

  private refuseWhileJournalFailed(): void {
    const failure = this.journal.failure;
    if (failure !== null) {
      throw new TermhostError(
        "JOURNAL_WRITE_FAILED",
        "the value journal is being reopened after a write failure",
        {
          hint: "retry in a moment; nothing is decided until the journal has been re-read",
          cause: failure,
        },
      );
    }
  }

  private tx(txId: string): ValueTx {
    const tx = this.state.txs.get(txId);
    if (tx === undefined) throw new TermhostError("INTERNAL", `transaction ${txId} vanished from the ledger`);
    return tx;
  }

  /** Why an open transaction still waits (its last interruption), for clients; null when closed. */
  waitingReason(txId: string): { code: string; message: string } | null {
    const tx = this.state.txs.get(txId);
    return tx !== undefined && isOpen(tx) ? (this.waitingBecause.get(txId) ?? null) : null;
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

  private family(kind: ValueKind): ValueDevices {
    const f = this.families.get(kind);
    if (f === undefined)
      throw new TermhostError("INTERNAL", `no device takes ${kind} transactions`, {
        hint: kind === "refill" ? "configure a postage meter" : "configure the value service",
      });
    return f;
  }

  /** What went wrong, and whether the journal can still vouch for what it holds. */
  private interrupted(e: unknown, restoring: boolean): ValueEvent {
    return {
      type: "interrupted",
      error: errorOf(e),
      journalFailed: this.journal.failure !== null,
      restoring,
    };
  }

  /** Authenticate → authorize → journal the restore record → send → verify the completion → close. */
  private async runIncrease(txId: string): Promise<void> {
    const tx = this.tx(txId);
    let event: ValueEvent;
    let target: ValueTarget | undefined;
    try {
      event = await this.family(tx.kind).withTarget(tx.reader, async (t) => {
        target = t;
        await t.authorize(tx, this.terms.get(txId) ?? {}, {
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
        return { type: "sent", completion: await t.send(this.tx(txId)), restored: null };
      });
    } catch (e) {
      event = this.interrupted(e, false);
    }
    this.logInterruption(txId, event);
    await this.drive(txId, event, false, target);
  }

  /** Authenticate → journal the debit message → DEBIT → close. */
  private async runDebit(txId: string): Promise<void> {
    const tx = this.tx(txId);
    let event: ValueEvent;
    try {
      event = await this.family(tx.kind).withTarget(tx.reader, async (t) => {
        await t.prepareDebit(tx, {
          debiting: async (facts, message) => {
            this.refuseWhileRestoreOpen(facts.targetId, txId, false);
            await this.append({
              type: "value.debiting",
              body: { txId, cardId: facts.targetId, balanceBefore: facts.balanceBefore, message, at: now() },
            });
          },
        });
        return { type: "sent", completion: await t.send(this.tx(txId)), restored: null };
      });
    } catch (e) {
      event = this.interrupted(e, false);
    }
    this.logInterruption(txId, event);
    await this.drive(txId, event, false);
  }

  private logInterruption(txId: string, event: ValueEvent): void {
    if (event.type !== "interrupted") return;
    const tx = this.tx(txId);
    this.o.log.warn(
      { txId, kind: tx.kind, phase: tx.phase, code: event.error.code, err: event.error.message },
      "value transaction interrupted",
    );
  }

  /**
   * One open transaction per card past authentication. For an increase, an earlier one still
   * `authorizing` counts too: settling it looks the authorization up by card and counter, and must
   * not find this one's. A debit issues no authorization and moves the counter, so it may go on.
   */
  private refuseWhileRestoreOpen(cardId: string, txId: string, increase: boolean): void {
    for (const id of this.state.openByCard.get(cardId) ?? []) {
      const other = this.state.txs.get(id);
      if (other === undefined || other.txId === txId) continue;
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

  /** Performs what `valueStep` decides for `event`, feeding each effect's result back in. */
  /** `restoring`: settling an interrupted transaction, whose end is announced as `restore.completed`. */
  private async drive(
    txId: string,
    event: ValueEvent,
    restoring: boolean,
    target?: ValueTarget,
  ): Promise<void> {
    const effects = valueStep(this.tx(txId), event, now());
    for (const effect of effects) {
      const next = await this.perform(txId, effect, restoring, target);
      if (next !== null) await this.drive(txId, next, restoring, target);
    }
  }

  private async perform(
    txId: string,
    effect: ValueEffect,
    restoring: boolean,
    target: ValueTarget | undefined,
  ): Promise<ValueEvent | null> {
    switch (effect.kind) {
      case "journal": {
        const wasOpen = isOpen(this.tx(txId));
        await this.append(effect.record);
        if (restoring && wasOpen && !isOpen(this.tx(txId))) this.emit("restore.completed", this.view(txId));
        return null;
      }
      case "wait":
        this.waitingBecause.set(txId, { code: effect.code, message: effect.message });
        this.emit("restore.pending", this.view(txId));
        return null;
      case "await-journal":
        this.waitingBecause.set(txId, { code: effect.code, message: effect.message });
        this.o.log.error(
          { txId, code: effect.code },
          "journal write failed; nothing is decided for this transaction until the journal is re-read",
        );
        return null;
      case "alarm": {
        const tx = this.tx(txId);
        this.o.log.error({ txId, cardId: tx.cardId, authorizationId: tx.authorizationId }, effect.message);
        return null;
      }
      case "send":
        if (target === undefined) throw new TermhostError("INTERNAL", "a resend needs its target");
        try {
          return { type: "sent", completion: await target.send(this.tx(txId)), restored: effect.restored };
        } catch (e) {
          return this.interrupted(e, restoring);
        }
      case "settle-authorizing":
        return this.lookUpAuthorization(txId, effect.cause);
      case "report-reversal":
        return {
          type: "reversal",
          authorizationId: effect.authorizationId,
          outcome: await this.reportReversal(txId, effect.authorizationId),
          cause: effect.cause,
        };
    }
  }

  /** An authorization may exist without its id in the journal: the authorizer is asked. */
  private async lookUpAuthorization(txId: string, cause: TermhostError): Promise<ValueEvent | null> {
    const tx = this.tx(txId);
    if (tx.cardId === null || tx.counter === null) return null;
    const { authority } = this.family(tx.kind);
    try {
      // A request still held at the authorizer could commit after the lookup; ended first, it cannot.
      if (tx.authorizerRef !== null) await authority.abandon(tx.authorizerRef);
      return { type: "found", found: await authority.find(tx.cardId, tx.counter), cause };
    } catch (e) {
      this.waitingBecause.set(txId, this.reason(e));
      this.emit("restore.pending", this.view(txId));
      return null;
    }
  }

  private async reportReversal(txId: string, authorizationId: number): Promise<ReversalOutcome> {
    try {
      await this.family(this.tx(txId).kind).authority.reportReversal(authorizationId);
      this.reversalRetry.reset(txId);
      return { kind: "reported" };
    } catch (e) {
      const error = errorOf(e);
      this.reversalRetry.failed(txId);
      if (TRANSIENT.has(error.code)) {
        this.o.log.warn(
          { txId, authorizationId, err: error.message },
          "reversal not reported yet; will retry",
        );
        return { kind: "unavailable", error };
      }
      this.o.log.error(
        { txId, authorizationId, code: error.code, err: error.message },
        "the authorizer refused a reversal; not asked again: reconcile it with the issuer",
      );
      return { kind: "refused", error };
    }
  }

  private openTxs(): ValueTx[] {
    const out: ValueTx[] = [];
    for (const id of this.state.open) {
      const tx = this.state.txs.get(id);
      if (tx !== undefined && !this.running.has(id)) out.push(tx);
    }
    return out;
  }

  private restoreEverywhere(): void {
    // A failed journal may or may not hold the record whose write failed: decide nothing on it.
    if (this.stopped || this.journal.failure !== null) return;
    for (const tx of this.openTxs()) {
      if (!this.families.has(tx.kind)) continue;
      if (tx.phase === "requested") {
        const error = new TermhostError("INTERRUPTED", "interrupted before the target was authenticated");
        void this.guard(tx.txId, () =>
          this.drive(tx.txId, { type: "interrupted", error, journalFailed: false, restoring: true }, true),
        );
      } else if (tx.phase === "authorizing") {
        const cause = new TermhostError("INTERRUPTED", "interrupted while asking for an authorization");
        void this.guard(tx.txId, async () => {
          const next = await this.lookUpAuthorization(tx.txId, cause);
          if (next !== null) await this.drive(tx.txId, next, true);
        });
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
   * present is asked, re-authenticating what is there (a card may have moved to another reader;
   * restore identifies it by its id).
   */
  retryNow(txId: string): string[] {
    const tx = this.find({ txId });
    const family = tx === undefined ? undefined : this.families.get(tx.kind);
    if (tx === undefined || family === undefined || !isOpen(tx)) return [];
    const places = family.present();
    for (const where of places) this.restoreOn(where, family, true);
    return places;
  }

  /**
   * A target appeared (or may be there) at `where`: if it is the target of an open transaction of
   * that family, settle it. Cards are identified by their id, not their slot. A card already
   * identified under the same presence token as none we wait for is not authenticated again (that
   * holds the SAM or opens an issuer session), and failed attempts back off, unless `now`.
   */
  restoreOn(where: string, family: ValueDevices | undefined = this.families.get("load"), now = false): void {
    if (this.stopped || this.journal.failure !== null || family === undefined || !family.mayHold(where))
      return;
    const waiting = this.openTxs().filter(
      (tx) => (tx.phase === "authorized" || tx.phase === "debiting") && this.families.get(tx.kind) === family,
    );
    if (waiting.length === 0) return;
    const device = `${family.name}/${where}`;
    if (this.busyDevices.has(device)) {
      this.o.log.debug({ where }, "restore waits: the device is busy");
      return;
    }
    const token = family.presence?.(where);
    if (!this.sweep.shouldAsk(device, token, (id) => waiting.some((tx) => tx.cardId === id), now)) return;
    this.o.log.debug({ where, waiting: waiting.map((tx) => tx.txId) }, "restore attempt");
    this.busyDevices.add(device);
    const run = this.restoreTarget(family, where, device, token, waiting)
      .then(
        () => this.sweep.succeeded(device),
        (e: unknown) => {
          this.sweep.failed(device);
          this.o.log.warn({ where, err: errorOf(e).message }, "restore attempt failed; will retry");
        },
      )
      .finally(() => {
        this.busyDevices.delete(device);
        this.scheduleRetry();
      });
    void run;
  }

  private async restoreTarget(
    family: ValueDevices,
    where: string,
    device: string,
    token: string | undefined,
    waiting: ValueTx[],
  ): Promise<void> {
    await family.withTarget(where, async (target) => {
      const targetId = await target.identify();
      this.sweep.identifiedAs(device, token, targetId);
      const mine = waiting.filter((tx) => tx.cardId === targetId && !this.running.has(tx.txId));
      let stillOpen = 0;
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
        if (isOpen(this.tx(tx.txId))) stillOpen++;
      }
      if (stillOpen > 0)
        throw new TermhostError(
          "INTERRUPTED",
          `${stillOpen} transaction(s) on this card still wait for restore`,
        );
    });
  }

  private async restoreOne(txId: string, target: ValueTarget): Promise<void> {
    if (this.tx(txId).phase !== "authorized" && this.tx(txId).phase !== "debiting") return;
    let event: ValueEvent;
    try {
      event = { type: "inspected", decision: await target.inspect(this.tx(txId)) };
      this.o.log.info({ txId, decision: event.decision.kind }, "restore decision");
    } catch (e) {
      event = this.interrupted(e, true);
    }
    await this.drive(txId, event, true, target);
  }

  /** Reversals that could not be reported yet, and transactions waiting for their target. */
  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    if (this.state.open.size === 0 && this.state.unreported.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.retryReversals().finally(() => this.restoreEverywhere());
    }, this.o.retryMs);
    this.retryTimer.unref();
  }

  private async retryReversals(): Promise<void> {
    if (this.journal.failure !== null) return;
    for (const txId of [...this.state.unreported]) {
      const tx = this.state.txs.get(txId);
      if (tx?.reversal == null || !this.families.has(tx.kind) || !this.reversalRetry.due(txId)) continue;
      const { authorizationId } = tx.reversal;
      await this.guard(txId, async () =>
        this.drive(
          txId,
          { type: "reversal-retried", outcome: await this.reportReversal(txId, authorizationId) },
          false,
        ),
      );
    }
  }
}
