import type { Logger } from "pino";
import { z } from "zod";
import { TermhostError } from "../errors/errors.js";
import type { FleetDb } from "./db.js";
import type { LedgerRow } from "./rows.js";

/** Where finished transactions come from: the kiosk's journals, retained and as they close. */
export interface OutboxSource {
  /** Every finished row the journal still holds. */
  retained(): Iterable<LedgerRow>;
  /** Calls `listener` with each row once its close is durable. */
  onFinished(listener: (row: LedgerRow) => void): void;
}

export interface OutboxOptions {
  db: FleetDb;
  kioskId: string;
  sources: OutboxSource[];
  batchSize: number;
  retryMs: number;
  log?: Logger | undefined;
}

const Known = z.object({ tx_id: z.string() });

/**
 * The kiosk's journals as the fleet ledger's outbox: a transaction is journaled first, then sent,
 * and the ledger takes each (kiosk, tx id) once, so sending again after a lost answer or a restart
 * changes nothing. At start the rows the ledger already holds are asked for, and only the rest is
 * sent; while the database is away, rows wait in memory and the journals keep them across restarts.
 */
export class Outbox {
  private readonly queue = new Map<string, LedgerRow>();
  private synced = false;
  private running: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private stopped = false;
  private lastError: TermhostError | null = null;
  private sentTotal = 0;
  private lastSentAt: Date | null = null;

  constructor(private readonly o: OutboxOptions) {
    for (const s of o.sources) s.onFinished((row) => this.add(row));
  }

  status(): {
    pending: number;
    synced: boolean;
    sent: number;
    lastSentAt: string | null;
    error: string | null;
  } {
    return {
      pending: this.queue.size,
      synced: this.synced,
      sent: this.sentTotal,
      lastSentAt: this.lastSentAt?.toISOString() ?? null,
      error: this.lastError === null ? null : `${this.lastError.code}: ${this.lastError.message}`,
    };
  }

  start(): void {
    this.running ??= this.loop();
  }

  /** Resolves once every row queued so far reached the ledger (or `timeoutMs` passed: false). */
  async drained(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.synced && this.queue.size === 0) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.synced && this.queue.size === 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.running;
  }

  private add(row: LedgerRow): void {
    this.queue.set(row.tx_id, row);
    this.wake?.();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.synced) await this.sync();
        if (this.queue.size > 0) await this.sendSome();
        this.lastError = null;
        if (this.queue.size === 0) await this.sleep(60_000);
      } catch (e) {
        const error = e instanceof TermhostError ? e : new TermhostError("INTERNAL", String(e), { cause: e });
        if (this.lastError?.message !== error.message)
          this.o.log?.warn(
            { err: error.message, pending: this.queue.size },
            "fleet ledger not reached; will retry",
          );
        this.lastError = error;
        await this.sleep(this.o.retryMs);
      }
    }
  }

  /** Queues every retained row the ledger does not hold yet. */
  private async sync(): Promise<void> {
    const retained = new Map<string, LedgerRow>();
    let oldest: string | undefined;
    for (const s of this.o.sources)
      for (const row of s.retained()) {
        retained.set(row.tx_id, row);
        if (oldest === undefined || row.at < oldest) oldest = row.at;
      }
    if (oldest !== undefined) {
      const rows = await this.o.db.query("SELECT tx_id FROM fleet_ledger WHERE kiosk_id = $1 AND at >= $2", [
        this.o.kioskId,
        oldest,
      ]);
      for (const r of rows) retained.delete(Known.parse(r).tx_id);
    }
    for (const [id, row] of retained) if (!this.queue.has(id)) this.queue.set(id, row);
    this.synced = true;
    this.o.log?.info({ pending: this.queue.size }, "fleet ledger outbox synced");
  }

  private async sendSome(): Promise<void> {
    const rows: LedgerRow[] = [];
    for (const row of this.queue.values()) {
      rows.push(row);
      if (rows.length >= this.o.batchSize) break;
    }
    await this.o.db.query("SELECT fleet_ingest($1, $2::jsonb, $3)", [
      this.o.kioskId,
      JSON.stringify(rows),
      this.queue.size - rows.length,
    ]);
    // A row queued again meanwhile is the same transaction: it was just sent.
    for (const r of rows) this.queue.delete(r.tx_id);
    this.sentTotal += rows.length;
    this.lastSentAt = new Date();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }
}
