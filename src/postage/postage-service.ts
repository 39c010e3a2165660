import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import type { JournalFs } from "../journal/index.js";
import { currencyNumeric } from "../purse/currency.js";
import { newBatchId } from "./batch/ids.js";
import { Mutex } from "./batch/lock.js";
import { BatchRunner } from "./batch/runner.js";
import { type BatchView, batchView } from "./batch/views.js";
import { DEFAULT_MAX_REFILL } from "./config.js";
import { PostageLedger } from "./ledger/ledger.js";
import type { InsufficientProcedure, PieceSpec } from "./ledger/records.js";
import { type LedgerRetention, openBatches } from "./ledger/state.js";
import { type ConnectView, MeterDriver } from "./meter/meter-driver.js";
import type { MeterProfile } from "./meter/profile.js";
import type { Registers } from "./protocol/index.js";
import { reconcilePrints } from "./reconcile.js";
import type { RefillGate } from "./refill/gate.js";
import { MeterDevices } from "./refill/meter-devices.js";
import type { MeterLinkOptions } from "./transport/meter-link.js";
import type { MeterTransport } from "./transport/transport.js";

const UNKNOWN_BATCH =
  "no such batch: never started here, or finished before the retention window " +
  "(postage.retainFinishedDays, postage.retainFinishedBatches, postage.retainFinishedPieces)";
/** A batch is journaled from its reservation on: before that (waiting for funds, say) nothing moved. */
const UNKNOWN_BATCH_HINT =
  "nothing was reserved or printed under a request id the daemon does not know, unless it finished " +
  "before the retention window: a batch interrupted before its reservation is started again with the same requestId";

export interface PostageServiceOptions {
  journalPath: string;
  meters: Array<{ profile: MeterProfile; transport: MeterTransport; link?: Partial<MeterLinkOptions> }>;
  /** Vendor keys by meter name, for simulated meters: lets the daemon sign refills itself. */
  vendorKeys?: Record<string, string>;
  /** Events for every subscriber of the postage topic: batch progress, refills, low funds. */
  publish?: (data: Record<string, unknown>) => void;
  log?: Logger;
  journalCompactAtBytes?: number;
  /** The postage journal's file operations (tests inject a full disk). */
  journalFs?: JournalFs;
  /** How long and how many finished batches stay answerable. */
  retention?: LedgerRetention;
  /** The largest single refill (minor units); DEFAULT_MAX_REFILL when absent. */
  maxRefillAmount?: number;
}

export interface StartBatch {
  meter: string;
  pieces: PieceSpec[];
  requestId: string;
  onInsufficient: InsufficientProcedure;
  waitTimeoutMs?: number | undefined;
}

export interface BatchSession {
  /** Progress of this batch, for the client that started it. */
  onProgress?: (view: BatchView) => void;
  /** Registers a callback for the end of the client's session. */
  onGone?: (fn: () => void) => void;
}

interface Meter {
  profile: MeterProfile;
  driver: MeterDriver;
  lock: Mutex;
  /** Callbacks of batches waiting for funds. */
  waiters: Set<() => void>;
  lowFunds: boolean;
}

/** Where a meter short of funds gets more by itself (the fleet's account, src/fleet). */
export interface FundsSource {
  /** A meter whose unreserved funds fall below this asks for a refill. */
  floor: number;
  /** Refills at least `shortfall`; true when the meter was credited. Never throws. */
  refill(meter: string, shortfall: number): Promise<boolean>;
}

interface Waiting {
  batchId: string;
  requestId: string;
  meter: string;
  pieces: number;
  cancel: () => void;
}

/**
 * Postage for the daemon: the reservation ledger of every meter, their drivers, and the batch
 * sessions. Every reservation change is journaled before it is acted on; every value-moving command
 * has its transaction id journaled before it is sent.
 */
export class PostageService {
  private readonly meters = new Map<string, Meter>();
  private readonly runners = new Map<string, BatchRunner>();
  private readonly progressListeners = new Map<string, (view: BatchView) => void>();
  private readonly starting = new Map<string, { request: StartBatch; view: Promise<BatchView> }>();
  private readonly waiting = new Map<string, Waiting>();
  /** Reconciliations started per meter: a newer connection's takes over from one still waiting. */
  private readonly reconciles = new Map<string, number>();
  private fundsSource: FundsSource | undefined;
  private stopStopping!: () => void;
  private readonly stopping = new Promise<void>((r) => {
    this.stopStopping = r;
  });

  private constructor(
    readonly ledger: PostageLedger,
    private readonly o: PostageServiceOptions,
  ) {}

  static async open(o: PostageServiceOptions): Promise<PostageService> {
    let service: PostageService | undefined;
    const ledger = await PostageLedger.open({
      path: o.journalPath,
      ...(o.journalCompactAtBytes === undefined ? {} : { compactAtBytes: o.journalCompactAtBytes }),
      ...(o.journalFs === undefined ? {} : { fs: o.journalFs }),
      ...(o.retention === undefined ? {} : { retention: o.retention }),
      ...(o.log === undefined ? {} : { log: o.log }),
      // What the reopened file holds and no session runs (a reservation whose append was refused
      // yet reached the disk) is closed as after a restart.
      onReopened: () => {
        service?.closeOrphansWithoutIntent("journal reopened").catch((e: unknown) => {
          o.log?.error({ err: e }, "batches left open by the failed journal stay open until restart");
        });
      },
    });
    service = new PostageService(ledger, o);
    await service.closeOrphansWithoutIntent("daemon restarted");
    for (const m of o.meters) service.addMeter(m);
    return service;
  }

  /** Meters refill by themselves from here: below the floor, and when a batch needs more than they hold. */
  setFundsSource(source: FundsSource): void {
    this.fundsSource = source;
  }

  get meterNames(): string[] {
    return [...this.meters.keys()];
  }

  driver(name: string): MeterDriver {
    return this.meter(name).driver;
  }

  start(): void {
    for (const m of this.meters.values()) m.driver.start();
  }

  async stop(): Promise<void> {
    this.stopStopping();
    for (const w of this.waiting.values()) w.cancel();
    await Promise.all([...this.meters.values()].map((m) => m.driver.stop()));
    await this.ledger.close();
  }

  // --- balance ------------------------------------------------------------------------------

  balance(name: string): {
    meter: string;
    currency: string;
    connected: boolean;
    balance: number;
    reserved: number;
    unreserved: number;
    registers: Registers | null;
    status: { locked: boolean; refillPending: boolean; inspectionDue: string; meterDate: string } | null;
  } {
    const m = this.meter(name);
    const funds = this.ledger.funds(name) ?? { balance: 0, reserved: 0, unreserved: 0 };
    return {
      meter: name,
      currency: m.profile.currency,
      connected: m.driver.ready,
      ...funds,
      registers: m.driver.registers ?? null,
      status: statusView(m.driver.status),
    };
  }

  // --- batches ------------------------------------------------------------------------------

  async startBatch(p: StartBatch, session: BatchSession = {}): Promise<BatchView> {
    const m = this.meter(p.meter);
    for (const piece of p.pieces)
      if (piece.currency !== m.profile.currency)
        throw new TermhostError(
          "POSTAGE_CURRENCY_MISMATCH",
          `meter ${p.meter} holds ${m.profile.currency}; a piece is in ${piece.currency}`,
          { context: { meter: p.meter, meterCurrency: m.profile.currency, pieceCurrency: piece.currency } },
        );
    const existing = this.ledger.batchByRequest(p.requestId);
    if (existing !== undefined) {
      if (!sameBatchRequest(existing, p)) throw conflict(p.requestId, existing.batchId);
      return this.view(existing.batchId);
    }
    const inFlight = this.starting.get(p.requestId);
    if (inFlight !== undefined) {
      if (!sameBatchRequest(inFlight.request, p)) throw conflict(p.requestId, null);
      return inFlight.view;
    }
    const view = this.reserveAndRun(p, session).finally(() => this.starting.delete(p.requestId));
    this.starting.set(p.requestId, { request: p, view });
    return view;
  }

  status(q: { batchId?: string | undefined; requestId?: string | undefined }): BatchView {
    const batchId =
      q.batchId ??
      (q.requestId === undefined
        ? undefined
        : (this.ledger.batchByRequest(q.requestId)?.batchId ??
          [...this.waiting.values()].find((w) => w.requestId === q.requestId)?.batchId));
    if (batchId === undefined || (this.ledger.batch(batchId) === undefined && !this.waiting.has(batchId)))
      throw new TermhostError("POSTAGE_BATCH_UNKNOWN", UNKNOWN_BATCH, {
        hint: UNKNOWN_BATCH_HINT,
        context: { ...q },
      });
    return this.view(batchId);
  }

  /** Resolves once the batch has ended, or after `timeoutMs` with its current state. */
  async waitForEnd(batchId: string, timeoutMs: number): Promise<BatchView> {
    const runner = this.runners.get(batchId);
    if (runner !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([runner.done, new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
      clearTimeout(timer);
    }
    return this.view(batchId);
  }

  cancel(q: { batchId?: string | undefined; requestId?: string | undefined }): BatchView {
    const view = this.status(q);
    const waiting = this.waiting.get(view.batchId);
    if (waiting !== undefined) waiting.cancel();
    this.runners.get(view.batchId)?.feed({ type: "cancel" });
    return this.view(view.batchId);
  }

  private async reserveAndRun(p: StartBatch, session: BatchSession): Promise<BatchView> {
    const m = this.meter(p.meter);
    if (this.ledger.funds(p.meter) === undefined) await m.driver.whenReady(p.waitTimeoutMs ?? 5000);
    const batchId = newBatchId();
    const deadline = Date.now() + (p.onInsufficient === "wait" ? (p.waitTimeoutMs ?? 30_000) : 0);
    let cancelled = false;
    let askedForFunds = false;
    let wake: () => void = () => undefined;
    const waiter = (): void => wake();
    try {
      for (;;) {
        const plan = await this.ledger.reserve({
          batchId,
          requestId: p.requestId,
          meter: p.meter,
          currency: m.profile.currency,
          pieces: p.pieces,
          onInsufficient: p.onInsufficient,
        });
        if (plan.kind === "reserve") break;
        // A batch larger than what the meter holds: one refill from the funds source, then decided again.
        if (this.fundsSource !== undefined && !askedForFunds && !cancelled) {
          askedForFunds = true;
          if (await this.fundsSource.refill(p.meter, plan.shortfall)) continue;
        }
        const remaining = deadline - Date.now();
        if (p.onInsufficient !== "wait" || remaining <= 0 || cancelled)
          throw new TermhostError(
            "POSTAGE_INSUFFICIENT_FUNDS",
            `meter ${p.meter}: unreserved funds ${plan.unreserved} do not cover ${plan.needed}`,
            {
              hint:
                p.onInsufficient === "wait"
                  ? "no refill freed enough funds in time; refill the meter or retry later"
                  : "refill the meter, send fewer pieces, or ask for onInsufficient 'partial' or 'wait'",
              context: {
                meter: p.meter,
                currency: m.profile.currency,
                needed: plan.needed,
                unreserved: plan.unreserved,
                shortfall: plan.shortfall,
                procedure: p.onInsufficient,
                ...(cancelled ? { cancelled: true } : {}),
              },
            },
          );
        // Waits for funds: a refill or a released reservation wakes it; the deadline bounds it.
        this.waiting.set(batchId, {
          batchId,
          requestId: p.requestId,
          meter: p.meter,
          pieces: p.pieces.length,
          cancel: () => {
            cancelled = true;
            wake();
          },
        });
        m.waiters.add(waiter);
        this.o.publish?.({ kind: "batch", ...this.view(batchId), indicia: undefined });
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        m.waiters.delete(waiter);
      }
    } finally {
      m.waiters.delete(waiter);
      this.waiting.delete(batchId);
    }
    if (session.onProgress !== undefined) this.progressListeners.set(batchId, session.onProgress);
    const runner = this.newRunner(batchId, m);
    session.onGone?.(() => {
      this.progressListeners.delete(batchId);
      runner.feed({ type: "clientGone" });
    });
    runner.start();
    this.checkLowFunds(p.meter);
    return this.view(batchId);
  }

  private newRunner(batchId: string, m: Meter): BatchRunner {
    const runner = new BatchRunner(batchId, {
      ledger: this.ledger,
      driver: m.driver,
      meterLock: m.lock,
      log: this.o.log,
      progress: (id) => this.progressed(id),
      released: (meter) => this.fundsChanged(meter),
      stopping: this.stopping,
    });
    this.runners.set(batchId, runner);
    void runner.done.then(() => {
      this.runners.delete(batchId);
      this.progressListeners.delete(batchId);
    });
    return runner;
  }

  private view(batchId: string): BatchView {
    const w = this.waiting.get(batchId);
    const batch = this.ledger.batch(batchId);
    if (batch === undefined && w !== undefined)
      return {
        batchId,
        requestId: w.requestId,
        meter: w.meter,
        state: "waiting",
        currency: this.meter(w.meter).profile.currency,
        requestedPieces: w.pieces,
        acceptedPieces: 0,
        printedPieces: 0,
        skippedPieces: 0,
        reserved: 0,
        consumed: 0,
        remaining: 0,
        released: 0,
        reason: null,
        unresolved: [],
        indicia: [],
      };
    if (batch === undefined)
      throw new TermhostError("POSTAGE_BATCH_UNKNOWN", UNKNOWN_BATCH, {
        hint: "batch ids are issued at the reservation: this one is another daemon's, or was forgotten",
        context: { batchId },
      });
    const runner = this.runners.get(batchId);
    return batchView(batch, runner?.phase, runner?.waitingForJournal ?? null);
  }

  private progressed(batchId: string): void {
    const view = this.view(batchId);
    this.progressListeners.get(batchId)?.(view);
    const { indicia: _, ...summary } = view;
    this.o.publish?.({ kind: "batch", ...summary });
    const batch = this.ledger.batch(batchId);
    if (batch !== undefined) this.checkLowFunds(batch.meter);
  }

  private fundsChanged(meter: string): void {
    const m = this.meters.get(meter);
    if (m === undefined) return;
    for (const w of [...m.waiters]) w();
    this.checkLowFunds(meter);
  }

  private checkLowFunds(meter: string): void {
    const m = this.meters.get(meter);
    const funds = this.ledger.funds(meter);
    if (m === undefined || funds === undefined) return;
    const source = this.fundsSource;
    if (source !== undefined && funds.unreserved < source.floor && m.driver.ready)
      void source.refill(meter, source.floor - funds.unreserved);
    const low = funds.unreserved < m.profile.lowFundsThreshold;
    if (low && !m.lowFunds)
      this.o.publish?.({
        kind: "low-funds",
        meter,
        currency: m.profile.currency,
        ...funds,
        threshold: m.profile.lowFundsThreshold,
      });
    m.lowFunds = low;
  }

  // --- refills ------------------------------------------------------------------------------

  /** The meters as targets of the value engine: refills are value increases (src/value). */
  refillDevices(gate?: RefillGate): MeterDevices {
    return new MeterDevices({
      gate,
      names: () => this.meterNames,
      driver: (name) => this.meter(name).driver,
      lock: (name) => this.meter(name).lock,
      vendorKey: (name) => this.o.vendorKeys?.[name],
      fundsMoved: async (name, registers) => {
        await this.ledger.synced(name, registers);
        this.fundsChanged(name);
      },
      checkRefill: (meter, amount) => this.checkRefillAmount({ meter, amount }),
      log: this.o.log,
    });
  }

  /** The control total as last read or returned by the meter. */
  controlTotal(meter: string): number | undefined {
    return this.meter(meter).driver.registers?.controlTotal;
  }

  /**
   * The currency a refill names (if any) is the meter's, and the meter's profile names a known one.
   * Checked by `postage.refill` before the value engine; the amount by `checkRefillAmount`.
   */
  checkRefillCurrency(r: { meter: string; currency?: string | undefined }): void {
    const currency = this.meter(r.meter).profile.currency;
    if (r.currency !== undefined && r.currency !== currency)
      throw new TermhostError("VALUE_REFUSED", `meter ${r.meter} holds ${currency}, not ${r.currency}`, {
        hint: `ask for the refill in ${currency}, the currency of the meter's profile`,
        context: { meter: r.meter, meterCurrency: currency, currency: r.currency },
      });
    if (currencyNumeric(currency) === undefined)
      throw new TermhostError(
        "VALUE_REFUSED",
        `meter ${r.meter}: its profile's currency ${currency} is unknown`,
        {
          hint: "fix the currency of the meter profile (an ISO 4217 code)",
          context: { meter: r.meter, meterCurrency: currency },
        },
      );
  }

  /**
   * A refill adds a positive amount within `postage.maxRefillAmount` (the value engine applies the
   * terminal's value limits to card loads only). Run by the meter family inside the value engine,
   * once the request id is claimed: a request whose id is known gets the ledger's answer instead.
   */
  checkRefillAmount(r: { meter: string; amount: number }): void {
    const currency = this.meter(r.meter).profile.currency;
    if (!Number.isInteger(r.amount) || r.amount <= 0)
      throw new TermhostError("VALUE_REFUSED", `a refill adds a positive amount, not ${r.amount}`, {
        hint: "give the amount in minor units, at least 1",
        context: { meter: r.meter, amount: r.amount },
      });
    const limit = this.o.maxRefillAmount ?? DEFAULT_MAX_REFILL;
    if (r.amount > limit)
      throw new TermhostError("LIMIT_EXCEEDED", `${r.amount} is above the single refill limit of ${limit}`, {
        hint: "refill in several requests, or raise postage.maxRefillAmount in the configuration",
        context: { meter: r.meter, amount: r.amount, limit, currency },
      });
  }

  /** Whether the daemon can sign a refill of this meter itself (a simulated meter's vendor key). */
  signsRefills(meter: string): boolean {
    this.meter(meter);
    return this.o.vendorKeys?.[meter] !== undefined;
  }

  /** The meter's serial and currency, once it was read; waits up to `waitMs` for its connection. */
  async identity(meter: string, waitMs: number): Promise<{ serial: string; currency: string }> {
    const m = this.meter(meter);
    await m.driver.whenReady(waitMs);
    const serial = m.driver.registers?.serial ?? this.ledger.state.meters.get(meter)?.serial;
    if (serial === undefined)
      throw new TermhostError("POSTAGE_METER_UNAVAILABLE", `meter ${meter} was never read`);
    return { serial, currency: m.profile.currency };
  }

  // --- recovery -----------------------------------------------------------------------------

  /** Batches no session runs, with no intent in flight: interrupted, their rest released. */
  private async closeOrphansWithoutIntent(reason: string): Promise<void> {
    for (const b of [...openBatches(this.ledger.state)])
      if (b.outcome === null && b.pending === null && !this.runners.has(b.batchId))
        await this.ledger.write([
          {
            type: "reservation.closed",
            body: {
              batchId: b.batchId,
              outcome: "interrupted",
              released: b.remaining,
              reason,
              closedAt: new Date().toISOString(),
            },
          },
        ]);
  }

  /**
   * At every (re)connection, before anything value-moving is sent: decides every open intent with the
   * meter's help (src/postage/reconcile.ts), closes batches nobody runs any more, and aligns the
   * balance mirror with the registers. Interrupted refills are the value engine's: it restores them
   * once the driver is ready.
   */
  private async reconcile(name: string, view: ConnectView): Promise<void> {
    const registers = await reconcilePrints(
      {
        ledger: this.ledger,
        meter: name,
        driver: this.meter(name).driver,
        running: (batchId) => this.runners.has(batchId),
        log: this.o.log,
      },
      view,
    );
    await this.ledger.synced(name, registers);
    this.fundsChanged(name);
  }

  /**
   * Reconciles; while the journal refuses its records (a full disk) waits and does it again with
   * the same view. The meter stays not ready meanwhile, so nothing value-moving is sent, and what
   * the first attempt did journal is not done twice (every step looks at the ledger first).
   */
  private async reconcileWhenJournaled(name: string, view: ConnectView): Promise<void> {
    const run = (this.reconciles.get(name) ?? 0) + 1;
    this.reconciles.set(name, run);
    for (let waitMs = 25; ; waitMs = Math.min(waitMs * 2, 1000)) {
      try {
        await this.reconcile(name, view);
        return;
      } catch (e) {
        if (!this.ledger.refusedForNow(e) || this.reconciles.get(name) !== run) throw e;
        this.o.log?.warn({ meter: name, err: e }, "meter reconciliation waits for the journal");
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  }

  private addMeter(o: PostageServiceOptions["meters"][number]): void {
    const name = o.profile.name;
    const driver = new MeterDriver({
      name,
      transport: o.transport,
      link: {
        baudRate: o.profile.baudRate,
        heartbeatMs: o.profile.heartbeatMs,
        ...o.link,
        ...(this.o.log === undefined ? {} : { log: this.o.log }),
      },
      reconcile: (view) => this.reconcileWhenJournaled(name, view),
      ...(this.o.log === undefined ? {} : { log: this.o.log }),
    });
    this.meters.set(name, {
      profile: o.profile,
      driver,
      lock: new Mutex(),
      waiters: new Set(),
      lowFunds: false,
    });
  }

  private meter(name: string): Meter {
    const m = this.meters.get(name);
    if (m === undefined)
      throw new TermhostError("POSTAGE_METER_UNKNOWN", `no meter named '${name}'`, {
        context: { meter: name, meters: [...this.meters.keys()] },
      });
    return m;
  }
}

/**
 * Whether a resent start is the batch already known under its request id: the same meter, procedure
 * and pieces. A partial batch keeps only the pieces it reserved, so those and the requested count are
 * compared.
 */
function sameBatchRequest(
  known: Pick<StartBatch, "meter" | "pieces" | "onInsufficient"> & { requestedPieces?: number },
  p: StartBatch,
): boolean {
  const requested = known.requestedPieces ?? known.pieces.length;
  return (
    known.meter === p.meter &&
    known.onInsufficient === p.onInsufficient &&
    requested === p.pieces.length &&
    known.pieces.every((k, i) => samePiece(k, p.pieces[i]))
  );
}

function samePiece(a: PieceSpec, b: PieceSpec | undefined): boolean {
  return (
    b !== undefined &&
    a.amount === b.amount &&
    a.currency === b.currency &&
    a.class === b.class &&
    a.origin === b.origin &&
    a.destination === b.destination
  );
}

function conflict(requestId: string, batchId: string | null): TermhostError {
  return new TermhostError(
    "REQUEST_ID_CONFLICT",
    `request id '${requestId}' names a batch with other parameters (meter, pieces or procedure)`,
    {
      hint:
        "use a new request id for a new batch; resend exactly the first parameters to get the first batch back " +
        "(postage.batch.status with this requestId shows it)",
      context: { requestId, ...(batchId === null ? {} : { batchId }) },
    },
  );
}

/** What the meter said at its last GET STATUS (lock, pending refill, inspection due); null before. */
function statusView(
  s: { locked: boolean; refillPending: boolean; inspectionDue: string; meterDate: string } | undefined,
): { locked: boolean; refillPending: boolean; inspectionDue: string; meterDate: string } | null {
  return s === undefined
    ? null
    : {
        locked: s.locked,
        refillPending: s.refillPending,
        inspectionDue: s.inspectionDue,
        meterDate: s.meterDate,
      };
}
