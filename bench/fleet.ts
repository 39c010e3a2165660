/**
 * The fleet account on a private PostgreSQL with fsync on, against the limit of the same server in
 * the same run:
 *   bare_per_s        CLIENTS connections each running `UPDATE bench_row SET n = n + 1 WHERE id = 1`
 *                     in autocommit: one hot row, every commit flushed (the limit)
 *   reserve_per_s     CLIENTS kiosks reserving from one account with distinct keys (FleetAccount.reserve)
 *   cycle_per_s       reserve, sending, settle (posted) per refill, CLIENTS at once
 *   catchup_per_s     a kiosk back after an outage: a real value journal holding 100,000 closed
 *                     transactions (one in a hundred a refill whose reservation the ledger settles)
 *                     reopened, and its outbox sending them all, from start until drained
 * Limits: reserve/bare >= 0.5, catch-up >= 5,000 rows/s. The last line is one JSON object with the figures.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FleetAccount } from "../src/fleet/account.js";
import { FleetConfig } from "../src/fleet/config.js";
import { FleetDb } from "../src/fleet/db.js";
import { Outbox, type OutboxSource } from "../src/fleet/outbox.js";
import { type LedgerRow, valueRow } from "../src/fleet/rows.js";
import { openJournal, type RecordInput } from "../src/journal/index.js";
import { refillTxnId } from "../src/postage/batch/ids.js";
import { isOpen, type ValueRecords, type ValueState, valueJournalOptions } from "../src/value/records.js";
import { TestPostgres } from "../test/support/postgres.js";

const CLIENTS = 8;
const ROUND_MS = 1500;
const ROUNDS = 4;
const CYCLE_ROUNDS = 2;
const CATCHUP_TXS = 100_000;
/** One closed transaction in this many is a meter refill holding a reservation at the account. */
const REFILL_EVERY = 100;
const RATIO_LIMIT = 0.5;
const CATCHUP_LIMIT = 5000;
const ACCOUNT = "bench";
const SERIAL = "PM0042";
const METER = "m";

const dir = mkdtempSync(join(tmpdir(), "bench-fleet-"));
const pgsql = await TestPostgres.start({ fsync: true });
let db: FleetDb | undefined;
try {
  await pgsql.createDatabase("fleet");
  // The daemon's defaults (batch size, timeouts), with a pool as large as the clients here.
  const config = FleetConfig.parse({
    kioskId: "bench-kiosk",
    account: ACCOUNT,
    database: {
      host: pgsql.socketDir,
      port: pgsql.port,
      database: "fleet",
      user: "postgres",
      poolSize: CLIENTS,
    },
  });
  db = new FleetDb(config.database, "bench fleet");
  const fleetDb = db;
  await fleetDb.migrate();
  await fleetDb.query("CREATE TABLE bench_row (id integer PRIMARY KEY, n bigint NOT NULL)");
  await fleetDb.query("INSERT INTO bench_row VALUES (1, 0)");
  // Enough that nothing is ever refused: the figure is the grant, not the refusal.
  await fleetDb.query("SELECT fleet_fund($1, 'EUR', $2, 'bench')", [ACCOUNT, 1_000_000_000_000]);
  const kiosks = Array.from(
    { length: CLIENTS },
    (_, i) => new FleetAccount(fleetDb, { account: ACCOUNT, kioskId: `kiosk-${i}`, leaseMs: config.leaseMs }),
  );
  const run = randomBytes(4).toString("hex");
  let seq = 0;
  const key = () => `${run}-${seq++}`;

  /** CLIENTS loops of `step` for `ms`; how many steps finished. */
  const loops = async (ms: number, step: (client: number) => Promise<void>): Promise<number> => {
    let n = 0;
    const end = performance.now() + ms;
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        while (performance.now() < end) {
          await step(c);
          n++;
        }
      }),
    );
    return n;
  };
  const bare = (ms: number) =>
    loops(ms, async () => {
      await fleetDb.query("UPDATE bench_row SET n = n + 1 WHERE id = 1");
    });
  const reserve = (ms: number) =>
    loops(ms, async (c) => {
      const r = await (kiosks[c] as FleetAccount).reserve(key(), METER, 100, 100);
      if (r.kind !== "granted" || !r.created) throw new Error(`reservation not made: ${JSON.stringify(r)}`);
    });
  const cycle = (ms: number) =>
    loops(ms, async (c) => {
      const k = kiosks[c] as FleetAccount;
      const id = key();
      const r = await k.reserve(id, METER, 100, 100);
      if (r.kind !== "granted") throw new Error(`reservation refused: ${JSON.stringify(r)}`);
      if ((await k.sending(id)) !== "sending") throw new Error(`reservation ${id} not sending`);
      if ((await k.settle(id, r.amount)) !== "posted") throw new Error(`reservation ${id} not posted`);
    });

  // Warm-up (connections, plans, JIT), then interleaved rounds, so that load from elsewhere on the
  // machine hits both alike.
  await bare(300);
  await reserve(300);
  await cycle(300);
  let bareN = 0;
  let reserveN = 0;
  let cycleN = 0;
  for (let r = 0; r < ROUNDS; r++) {
    bareN += await bare(ROUND_MS);
    reserveN += await reserve(ROUND_MS);
    if (r < CYCLE_ROUNDS) cycleN += await cycle(ROUND_MS);
  }
  const barePerS = perSec(bareN, ROUNDS * ROUND_MS);
  const reservePerS = perSec(reserveN, ROUNDS * ROUND_MS);
  const cyclePerS = perSec(cycleN, CYCLE_ROUNDS * ROUND_MS);
  const ratio = reservePerS / barePerS;
  const ratioOk = ratio >= RATIO_LIMIT;
  console.log(`bare hot-row UPDATE, ${CLIENTS} clients      ${barePerS} /s (fsync on)`);
  console.log(
    `reservations, ${CLIENTS} kiosks, one account ${reservePerS} /s   ${ratio.toFixed(2)}x bare (limit >= ${RATIO_LIMIT}) ${ratioOk ? "ok" : "MISSED"}`,
  );
  console.log(`reserve + sending + settle        ${cyclePerS} cycles/s`);
  const funds = await kiosks[0]?.funds();
  if (funds === undefined) throw new Error("the account is gone");
  const posted = await fleetDb.query<{ s: string | null }>(
    "SELECT sum(posted) AS s FROM fleet_reservation WHERE state = 'posted'",
  );
  if (funds.balance + Number(posted[0]?.s ?? 0) !== funds.funded)
    throw new Error(`balance + posted != funded: ${JSON.stringify(funds)}`);

  // The outage: refills reserved and sent while the database was still there, then 100,000
  // transactions closed in the kiosk's value journal that the ledger never heard of.
  const journalPath = join(dir, "value.journal");
  const tb = performance.now();
  const kiosk = new FleetAccount(fleetDb, {
    account: ACCOUNT,
    kioskId: config.kioskId,
    leaseMs: config.leaseMs,
  });
  const refills = await writeJournal(journalPath, async (requestId, amount) => {
    const txnId = refillTxnId(SERIAL, requestId);
    const r = await kiosk.reserve(txnId, METER, amount, amount);
    if (r.kind !== "granted" || (await kiosk.sending(txnId)) !== "sending")
      throw new Error(`refill reservation ${txnId} not made`);
  });
  const buildMs = performance.now() - tb;
  // The kiosk restarts: its journal is replayed, and what it retained is the outbox.
  const tr = performance.now();
  const journal = await openJournal({ path: journalPath, ...valueJournalOptions() });
  const reopenMs = performance.now() - tr;
  const state = journal.state;
  const closed = [...state.txs.values()].filter((tx) => !isOpen(tx)).length;
  if (closed !== CATCHUP_TXS) throw new Error(`the journal retained ${closed} closed transactions`);
  console.log(
    `value journal: ${CATCHUP_TXS} closed transactions (${refills} refills), ${statSync(journalPath).size} bytes, written in ${Math.round(buildMs)} ms, reopened in ${Math.round(reopenMs)} ms`,
  );
  const source = valueSource(state);
  const rowBytes = [...source.retained()].reduce((s, row) => s + JSON.stringify(row).length, 0);

  const before = await ledgerCount(fleetDb, config.kioskId);
  const outbox = new Outbox({
    db: fleetDb,
    kioskId: config.kioskId,
    sources: [source],
    batchSize: config.outbox.batchSize,
    retryMs: config.outbox.retryMs,
  });
  const tc = performance.now();
  outbox.start();
  const drained = await outbox.drained(600_000);
  const catchupMs = performance.now() - tc;
  await outbox.stop();
  if (!drained) throw new Error(`the outbox did not drain: ${JSON.stringify(outbox.status())}`);
  const inLedger = (await ledgerCount(fleetDb, config.kioskId)) - before;
  if (inLedger !== CATCHUP_TXS) throw new Error(`the ledger holds ${inLedger} of ${CATCHUP_TXS} rows`);
  const settled = await fleetDb.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM fleet_reservation WHERE kiosk_id = $1 AND state = 'posted'",
    [config.kioskId],
  );
  if (settled[0]?.n !== refills) throw new Error(`${settled[0]?.n} of ${refills} refills settled`);
  const catchupPerS = perSec(CATCHUP_TXS, catchupMs);
  const catchupOk = catchupPerS >= CATCHUP_LIMIT;
  console.log(
    `outbox catch-up: ${inLedger} rows (${Math.round(rowBytes / CATCHUP_TXS)} B of JSON each, ${config.outbox.batchSize} per fleet_ingest) in ${Math.round(catchupMs)} ms = ${catchupPerS} rows/s (limit >= ${CATCHUP_LIMIT}) ${catchupOk ? "ok" : "MISSED"}`,
  );

  // The next restart finds the ledger holding everything: only the known ids are read.
  const again = new Outbox({
    db: fleetDb,
    kioskId: config.kioskId,
    sources: [source],
    batchSize: config.outbox.batchSize,
    retryMs: config.outbox.retryMs,
  });
  const ts = performance.now();
  again.start();
  if (!(await again.drained(120_000))) throw new Error("the second outbox did not sync");
  const resyncMs = performance.now() - ts;
  await again.stop();
  if (again.status().sent !== 0) throw new Error(`the second outbox sent ${again.status().sent} rows`);
  console.log(`restart with nothing to send: synced in ${Math.round(resyncMs)} ms`);
  await journal.close();

  const after = await kiosks[0]?.funds();
  const postedAfter = await fleetDb.query<{ s: string | null }>(
    "SELECT sum(posted) AS s FROM fleet_reservation WHERE state = 'posted'",
  );
  if (after === undefined || after.balance + Number(postedAfter[0]?.s ?? 0) !== after.funded)
    throw new Error(`balance + posted != funded after the catch-up: ${JSON.stringify(after)}`);

  console.log(
    JSON.stringify({
      bench: "fleet",
      clients: CLIENTS,
      bare_per_s: barePerS,
      reserve_per_s: reservePerS,
      cycle_per_s: cyclePerS,
      reserve_vs_bare: Number(ratio.toFixed(3)),
      reserve_vs_bare_limit: RATIO_LIMIT,
      reserve_vs_bare_ok: ratioOk,
      catchup_rows: CATCHUP_TXS,
      catchup_batch_size: config.outbox.batchSize,
      catchup_ms: Math.round(catchupMs),
      catchup_per_s: catchupPerS,
      catchup_limit_per_s: CATCHUP_LIMIT,
      catchup_ok: catchupOk,
      resync_ms: Math.round(resyncMs),
      ok: ratioOk && catchupOk,
    }),
  );
} finally {
  await db?.end();
  await pgsql.destroy();
  rmSync(dir, { recursive: true, force: true });
}

function perSec(n: number, ms: number): number {
  return Math.round((n * 1000) / ms);
}

async function ledgerCount(db: FleetDb, kioskId: string): Promise<number> {
  const rows = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM fleet_ledger WHERE kiosk_id = $1",
    [kioskId],
  );
  return rows[0]?.n ?? 0;
}

/** The daemon's value source (src/fleet/service.ts) over a journal's state: nothing closes here. */
function valueSource(state: ValueState): OutboxSource {
  return {
    *retained() {
      for (const tx of state.txs.values()) {
        const row = valueRow(tx);
        if (row !== undefined) yield row;
      }
    },
    onFinished(_listener: (row: LedgerRow) => void) {},
  };
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/**
 * Writes CATCHUP_TXS closed value transactions the way the engine journals them, over the last two
 * days: card loads (one in twenty failed), debits, and meter refills, each refill's reservation
 * made and sent first through `reserveRefill`. Returns how many refills there are.
 */
async function writeJournal(
  path: string,
  reserveRefill: (requestId: string, amount: number) => Promise<void>,
): Promise<number> {
  // The daemon's own options, compaction included: the kiosk's journal as it is after a busy day.
  const j = await openJournal({ path, ...valueJournalOptions() });
  const start = Date.now() - 2 * 86_400_000;
  const step = (2 * 86_400_000) / CATCHUP_TXS;
  const terminalId = hex(8);
  let refills = 0;
  let controlTotal = 1_000_000;
  let batch: RecordInput<ValueRecords>[] = [];
  for (let i = 0; i < CATCHUP_TXS; i++) {
    const t0 = new Date(start + i * step).toISOString();
    const t1 = new Date(start + i * step + 300).toISOString();
    const txId = `vtx-${(start + i).toString(36)}-${hex(5)}`;
    const requestId = `req-${i}`;
    const amount = 100 + (i % 4900);
    const cardId = (i % 997).toString(16).padStart(16, "0");
    const counter = i;
    if (i % REFILL_EVERY === 0) {
      refills++;
      await reserveRefill(requestId, amount);
      const txnId = refillTxnId(SERIAL, requestId);
      batch.push(
        {
          type: "value.requested",
          body: { txId, requestId, kind: "refill", reader: METER, amount, currency: 978, at: t0 },
        },
        {
          type: "value.authorizing",
          body: { txId, cardId: SERIAL, counter: controlTotal, balanceBefore: 5000, at: t0 },
        },
        {
          type: "value.authorized",
          body: {
            txId,
            authorizationId: i,
            message: { txnId, amount, nextInspection: "2099-12-31", authorization: hex(16) },
            at: t0,
          },
        },
        {
          type: "value.applied",
          body: { txId, balanceAfter: 5000 + amount, proof: txnId, restored: null, at: t1 },
        },
      );
      controlTotal += amount;
    } else if (i % 3 === 1) {
      batch.push(
        {
          type: "value.requested",
          body: {
            txId,
            requestId,
            kind: "debit",
            reader: "Virtual PCD 00 00",
            amount,
            currency: 978,
            at: t0,
          },
        },
        {
          type: "value.debiting",
          body: {
            txId,
            cardId,
            balanceBefore: 10_000,
            message: { counter, amount, currency: 978, terminalId },
            at: t0,
          },
        },
        {
          type: "value.applied",
          body: { txId, balanceAfter: 10_000 - amount, proof: hex(8), restored: null, at: t1 },
        },
      );
    } else {
      batch.push(
        {
          type: "value.requested",
          body: { txId, requestId, kind: "load", reader: "Virtual PCD 00 00", amount, currency: 978, at: t0 },
        },
        { type: "value.authorizing", body: { txId, cardId, counter, balanceBefore: 10_000, at: t0 } },
        {
          type: "value.authorized",
          body: {
            txId,
            authorizationId: i,
            message: { counter, amount, currency: 978, terminalId, s2: hex(8) },
            at: t0,
          },
        },
        i % 20 === 2
          ? {
              type: "value.failed",
              body: {
                txId,
                code: "CARD_REMOVED",
                message: "the card left the reader before the load",
                reversal: { authorizationId: i, reported: true },
                at: t1,
              },
            }
          : {
              type: "value.applied",
              body: { txId, balanceAfter: 10_000 + amount, proof: hex(8), restored: null, at: t1 },
            },
      );
    }
    if (batch.length >= 4000) {
      await j.appendMany(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await j.appendMany(batch);
  await j.close();
  return refills;
}
