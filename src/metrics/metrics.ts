import diagnostics_channel from "node:diagnostics_channel";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { EventTopic } from "../api/schemas/events.js";
import { type ApduProbe, apduProbe, type JournalCommitProbe, journalCommitProbe } from "../util/probes.js";

/** What the metrics read when scraped: current state, never a card id or request id. */
export interface MetricSources {
  readers(): ReadonlyArray<{ card: string }>;
  /** Value transactions waiting for restore (pending or restoring). */
  restoreQueue(): number;
  meters(): ReadonlyArray<{ meter: string; currency: string; balance: number; reserved: number }>;
  /** Open connections per listener: api, admin, gateway, console. */
  clients(): Record<string, number>;
  /** Subscribers dropped for falling behind their event queue, since start. */
  eventDrops(): number;
  /** The fleet's database and outbox, when a fleet is configured. */
  fleet?(): { ready: boolean; pending: number } | undefined;
}

export interface Metrics {
  registry: Registry;
  /** Counts one published event (the daemon taps its event hub with this). */
  observe(topic: EventTopic, data: unknown): void;
  text(): Promise<string>;
  contentType: string;
  close(): void;
}

const TERMINAL_BATCH = new Set(["completed", "cancelled", "interrupted", "failed", "unresolved"]);
const TERMINAL_VALUE = new Set(["applied", "failed", "unresolved"]);
const SUCCESS_SW = /^(?:90..|61..|9F..)$/;

/**
 * termhost's Prometheus metrics (docs/web.md lists them): a registry of its own, so nothing else in
 * the process adds to what the console's /metrics serves. Counters move from the event hub and
 * from the PC/SC and journal probes; gauges are read from the daemon's state at each scrape.
 */
export function createMetrics(src: MetricSources): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "termhost_" });
  const r = [registry];
  new Gauge({
    name: "termhost_readers",
    help: "PC/SC readers present, by card state",
    labelNames: ["card"],
    registers: r,
    collect() {
      this.reset();
      for (const state of ["absent", "present", "mute", "unavailable"]) this.set({ card: state }, 0);
      for (const rd of src.readers()) this.inc({ card: rd.card });
    },
  });
  const cards = new Counter({
    name: "termhost_card_insertions_total",
    help: "cards inserted into any reader",
    registers: r,
  });
  const apdus = new Counter({
    name: "termhost_apdus_total",
    help: "APDU exchanges with cards, by outcome (ok, status, error)",
    labelNames: ["outcome"],
    registers: r,
  });
  const apduErrors = new Counter({
    name: "termhost_apdu_errors_total",
    help: "APDU exchanges that failed or answered an error status, by code (error code, or SW_xxxx)",
    labelNames: ["code"],
    registers: r,
  });
  const value = new Counter({
    name: "termhost_value_transactions_total",
    help: "value transactions that ended, by kind (load, debit, refill) and outcome (applied, failed, unresolved)",
    labelNames: ["kind", "outcome"],
    registers: r,
  });
  new Gauge({
    name: "termhost_restore_queue_transactions",
    help: "value transactions waiting for restore (pending or restoring)",
    registers: r,
    collect() {
      this.set(src.restoreQueue());
    },
  });
  const batches = new Counter({
    name: "termhost_postage_batches_total",
    help: "postage batches that ended, by outcome",
    labelNames: ["outcome"],
    registers: r,
  });
  const indicia = new Counter({
    name: "termhost_postage_indicia_total",
    help: "indicia printed",
    registers: r,
  });
  new Gauge({
    name: "termhost_meter_funds_cents",
    help: "a meter's funds in minor units of its currency, by kind (balance, reserved)",
    labelNames: ["meter", "currency", "kind"],
    registers: r,
    collect() {
      this.reset();
      for (const m of src.meters()) {
        this.set({ meter: m.meter, currency: m.currency, kind: "balance" }, m.balance);
        this.set({ meter: m.meter, currency: m.currency, kind: "reserved" }, m.reserved);
      }
    },
  });
  const commits = new Counter({
    name: "termhost_journal_commits_total",
    help: "journal group commits (one durable write, any number of records)",
    registers: r,
  });
  const records = new Counter({
    name: "termhost_journal_records_total",
    help: "journal records committed",
    registers: r,
  });
  const commitSeconds = new Histogram({
    name: "termhost_journal_commit_duration_seconds",
    help: "a journal commit's write plus fdatasync (or O_DSYNC write)",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: r,
  });
  new Gauge({
    name: "termhost_socket_clients",
    help: "open client connections, by listener (api, admin, gateway, console)",
    labelNames: ["listener"],
    registers: r,
    collect() {
      this.reset();
      for (const [listener, n] of Object.entries(src.clients())) this.set({ listener }, n);
    },
  });
  // A count since start, read from the event hub at each scrape: a counter by its name and type.
  new Counter({
    name: "termhost_event_subscribers_dropped_total",
    help: "event subscribers disconnected for falling behind their queue bound since start",
    registers: r,
    collect() {
      this.reset();
      this.inc(src.eventDrops());
    },
  });

  new Gauge({
    name: "termhost_fleet_database_ready",
    help: "1 once the fleet database answered since start (schema checked), 0 before and without a fleet",
    registers: r,
    collect() {
      this.reset();
      const f = src.fleet?.();
      if (f !== undefined) this.set(f.ready ? 1 : 0);
    },
  });
  new Gauge({
    name: "termhost_fleet_outbox_pending",
    help: "finished transactions not yet in the fleet ledger",
    registers: r,
    collect() {
      this.reset();
      const f = src.fleet?.();
      if (f !== undefined) this.set(f.pending);
    },
  });

  const onApdu = (msg: unknown): void => {
    const m = msg as ApduProbe;
    if (m.error !== null) {
      apdus.inc({ outcome: "error" });
      apduErrors.inc({ code: m.error });
    } else if (m.sw !== null && !SUCCESS_SW.test(m.sw)) {
      apdus.inc({ outcome: "status" });
      apduErrors.inc({ code: `SW_${m.sw}` });
    } else apdus.inc({ outcome: "ok" });
  };
  const onCommit = (msg: unknown): void => {
    const m = msg as JournalCommitProbe;
    commits.inc();
    records.inc(m.records);
    commitSeconds.observe(m.seconds);
  };
  diagnostics_channel.subscribe(apduProbe.name, onApdu);
  diagnostics_channel.subscribe(journalCommitProbe.name, onCommit);

  // A batch's printed pieces grow event by event; the last count seen is kept until it ends. Ends
  // are remembered (a bounded set) so that an end published twice counts once.
  const printed = new Map<string, number>();
  const ended = new BoundedSet(10_000);
  const observe = (topic: EventTopic, data: unknown): void => {
    const d = (data ?? {}) as Record<string, unknown>;
    if (topic === "cards" && d.kind === "card-inserted") cards.inc();
    else if (topic === "value") {
      const tx = (d.transaction ?? {}) as { txId?: unknown; state?: unknown; kind?: unknown };
      if (
        typeof tx.state === "string" &&
        TERMINAL_VALUE.has(tx.state) &&
        ended.add(`tx:${String(tx.txId)}`)
      ) {
        value.inc({ kind: String(tx.kind), outcome: tx.state });
      }
    } else if (topic === "postage" && d.kind === "batch" && typeof d.batchId === "string") {
      const now = typeof d.printedPieces === "number" ? d.printedPieces : 0;
      const before = printed.get(d.batchId) ?? 0;
      if (now > before) indicia.inc(now - before);
      if (typeof d.state === "string" && TERMINAL_BATCH.has(d.state)) {
        if (ended.add(`batch:${d.batchId}`)) batches.inc({ outcome: d.state });
        printed.delete(d.batchId);
      } else if (printed.size < 10_000) printed.set(d.batchId, Math.max(now, before));
    }
  };

  return {
    registry,
    observe,
    text: () => registry.metrics(),
    contentType: registry.contentType,
    close() {
      diagnostics_channel.unsubscribe(apduProbe.name, onApdu);
      diagnostics_channel.unsubscribe(journalCommitProbe.name, onCommit);
    },
  };
}

/** Remembers the last `max` keys; `add` is true for a key not seen among them. */
class BoundedSet {
  private readonly keys = new Set<string>();
  constructor(private readonly max: number) {}
  add(key: string): boolean {
    if (this.keys.has(key)) return false;
    this.keys.add(key);
    if (this.keys.size > this.max) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    return true;
  }
}
