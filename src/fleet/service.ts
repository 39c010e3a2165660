import type { Logger } from "pino";
import { TermhostError } from "../errors/errors.js";
import { finishedBatches } from "../postage/ledger/state.js";
import type { PostageService } from "../postage/postage-service.js";
import { productVersion } from "../util/version.js";
import type { ValueEngine } from "../value/engine.js";
import { FleetAccount } from "./account.js";
import type { FleetConfig } from "./config.js";
import { FleetDb } from "./db.js";
import { FleetGate } from "./gate.js";
import { Outbox, type OutboxSource } from "./outbox.js";
import { type FleetOverview, fleetOverview } from "./overview.js";
import { FleetRefills } from "./refills.js";
import { batchRow, type LedgerRow, valueRow } from "./rows.js";

/**
 * The kiosk's part in the fleet: the shared account its meters refill from, and the outbox that
 * brings its finished transactions to the fleet ledger. Start-up never waits for the database: the
 * schema is checked (and migrated) in the background, and until it answers, refills are refused with
 * FLEET_UNAVAILABLE while everything else — cards, printing from the meters' own funds — runs on.
 */
export class FleetService {
  readonly db: FleetDb;
  readonly account: FleetAccount;
  readonly gate: FleetGate;
  readonly refills: FleetRefills;
  readonly outbox: Outbox;
  private schemaReady = false;
  private stopped = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;

  constructor(
    readonly config: FleetConfig,
    private readonly postage: PostageService,
    value: ValueEngine,
    private readonly log?: Logger,
  ) {
    this.db = new FleetDb(config.database, `termhostd ${config.kioskId}`, log);
    this.account = new FleetAccount(this.db, {
      account: config.account,
      kioskId: config.kioskId,
      leaseMs: config.leaseMs,
    });
    const ready = () => this.ensureReady();
    this.gate = new FleetGate(this.account, ready);
    this.refills = new FleetRefills({ account: this.account, config, postage, value, ready, log });
    this.outbox = new Outbox({
      db: this.db,
      kioskId: config.kioskId,
      sources: [valueSource(value, (meter) => this.serialOf(meter)), batchSource(postage)],
      batchSize: config.outbox.batchSize,
      retryMs: config.outbox.retryMs,
      log,
    });
    const auto = config.autoRefill;
    if (auto !== undefined)
      postage.setFundsSource({
        floor: auto.floor,
        refill: (meter, short) => this.refills.refillShort(meter, short),
      });
  }

  get ready(): boolean {
    return this.schemaReady;
  }

  /** Checks the schema until the database answers, then sends the outbox and reports the kiosk. */
  start(): void {
    this.starting ??= this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeat);
    await this.outbox.stop();
    await this.db.end();
  }

  overview(days = 7): Promise<FleetOverview> {
    this.ensureReady();
    return fleetOverview(this.db, this.config.account, days);
  }

  status(): { kioskId: string; account: string; ready: boolean; outbox: ReturnType<Outbox["status"]> } {
    return {
      kioskId: this.config.kioskId,
      account: this.config.account,
      ready: this.schemaReady,
      outbox: this.outbox.status(),
    };
  }

  private serialOf(meter: string): string | undefined {
    if (!this.postage.meterNames.includes(meter)) return undefined;
    return (
      this.postage.balance(meter).registers?.serial ?? this.postage.ledger.state.meters.get(meter)?.serial
    );
  }

  private ensureReady(): void {
    if (!this.schemaReady)
      throw new TermhostError(
        "FLEET_UNAVAILABLE",
        "the fleet database has not answered since termhostd started",
        {
          hint: "check the database server, the network and fleet.database in the configuration; the kiosk retries",
          context: { host: this.config.database.host, database: this.config.database.database },
        },
      );
  }

  private async connect(): Promise<void> {
    let logged = "";
    while (!this.stopped && !this.schemaReady) {
      try {
        await this.db.migrate();
        this.schemaReady = true;
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (message !== logged) this.log?.warn({ err: message }, "fleet database not reached; will retry");
        logged = message;
        await new Promise((r) => setTimeout(r, this.config.outbox.retryMs));
      }
    }
    if (this.stopped) return;
    this.log?.info({ kioskId: this.config.kioskId, account: this.config.account }, "fleet database reached");
    this.outbox.start();
    const beat = () => void this.reportSeen();
    beat();
    this.heartbeat = setInterval(beat, this.config.outbox.heartbeatMs);
    this.heartbeat.unref();
  }

  private async reportSeen(): Promise<void> {
    const meters = this.postage.meterNames.map((name) => {
      const b = this.postage.balance(name);
      return {
        meter: name,
        serial: b.registers?.serial ?? null,
        currency: b.currency,
        connected: b.connected,
        balance: b.balance,
        unreserved: b.unreserved,
      };
    });
    await this.db
      .query("SELECT fleet_seen($1, $2, $3::jsonb, $4)", [
        this.config.kioskId,
        productVersion(),
        JSON.stringify(meters),
        this.outbox.status().pending,
      ])
      .catch((e: unknown) => this.log?.debug({ err: String(e) }, "fleet heartbeat not delivered"));
  }
}

function valueSource(value: ValueEngine, serialOf: (meter: string) => string | undefined): OutboxSource {
  return {
    *retained() {
      for (const tx of value.state.txs.values()) {
        const row = valueRow(tx, serialOf);
        if (row !== undefined) yield row;
      }
    },
    onFinished(listener: (row: LedgerRow) => void) {
      value.on("transaction", (tx) => {
        const row = valueRow(tx, serialOf);
        if (row !== undefined) listener(row);
      });
    },
  };
}

function batchSource(postage: PostageService): OutboxSource {
  return {
    *retained() {
      for (const b of finishedBatches(postage.ledger.state)) {
        const row = batchRow(b);
        if (row !== undefined) yield row;
      }
    },
    onFinished(listener: (row: LedgerRow) => void) {
      postage.ledger.onBatchClosed((batchId) => {
        const b = postage.ledger.batch(batchId);
        const row = b === undefined ? undefined : batchRow(b);
        if (row !== undefined) listener(row);
      });
    },
  };
}
