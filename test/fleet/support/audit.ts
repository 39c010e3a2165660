import type { ZodType } from "zod";
import { type JournalTarget, resolveJournal } from "../../../src/cli/journal-tools.js";
import { valueRetention } from "../../../src/daemon/value-config.js";
import { batchRow, type LedgerRow, valueRow } from "../../../src/fleet/rows.js";
import { nodeFs, O_RDONLY } from "../../../src/journal/fs.js";
import { acquireLock } from "../../../src/journal/lock.js";
import { RecordCodec } from "../../../src/journal/records.js";
import { scanJournal } from "../../../src/journal/recovery.js";
import { refillTxnId } from "../../../src/postage/batch/ids.js";
import { retentionOf } from "../../../src/postage/config.js";
import { LedgerRecords } from "../../../src/postage/ledger/records.js";
import {
  allBatches,
  emptyLedger,
  type LedgerState,
  ledgerReducer,
  ledgerSnapshotCodec,
} from "../../../src/postage/ledger/state.js";
import { isOpen, type ValueState, valueJournalOptions } from "../../../src/value/records.js";

interface ReplayOptions<S> {
  types: Record<string, ZodType>;
  initialState: () => S;
  reduce: (s: S, r: unknown) => S;
  snapshot: { schema: ZodType; load: (snap: unknown) => S };
}

/**
 * A stopped daemon's journal as its next start would see it, read-only under the journal's lock:
 * the same replay `termhost journal inspect` runs (src/cli/journal-tools.ts), keeping the state
 * instead of summarising it. A torn tail is a discrepancy here: a clean stop leaves none.
 */
async function replay<S>(
  target: JournalTarget,
  o: ReplayOptions<S>,
): Promise<{ state: S; damage: string | null }> {
  const codec = new RecordCodec(o.types);
  const lock = await acquireLock(target.path);
  const fd = await nodeFs.open(target.path, O_RDONLY);
  try {
    let state = o.initialState();
    const scan = await scanJournal(nodeFs, fd, (frames) => {
      for (const frame of frames) {
        if (frame.snapshot) {
          state = o.snapshot.load(o.snapshot.schema.parse(JSON.parse(frame.bodyText())));
          continue;
        }
        state = o.reduce(state, codec.decode(frame));
      }
    });
    const d = scan.damage;
    return { state, damage: d === null ? null : `${d.kind} damage at ${d.at}: ${d.reason}` };
  } finally {
    await nodeFs.close(fd);
    await lock.release();
  }
}

/** What one kiosk's journals hold: the rows its outbox owes the fleet ledger, and what is still open. */
export interface KioskJournals {
  rows: LedgerRow[];
  openValue: string[];
  openBatches: string[];
  damage: string[];
}

/** Reads a stopped kiosk's value and postage journals, by its daemon's configuration file. */
export async function readKioskJournals(configPath: string): Promise<KioskJournals> {
  const valueTarget = resolveJournal("value", { config: configPath });
  const value = await replay<ValueState>(
    valueTarget,
    valueJournalOptions(valueRetention(valueTarget.config.value)) as unknown as ReplayOptions<ValueState>,
  );
  const postageTarget = resolveJournal("postage", { config: configPath });
  const postage = await replay<LedgerState>(postageTarget, {
    types: LedgerRecords,
    initialState: emptyLedger,
    reduce: ledgerReducer(retentionOf(postageTarget.config.postage)) as (
      s: LedgerState,
      r: unknown,
    ) => LedgerState,
    snapshot: ledgerSnapshotCodec as unknown as ReplayOptions<LedgerState>["snapshot"],
  });
  const rows: LedgerRow[] = [];
  const openValue: string[] = [];
  const openBatches: string[] = [];
  for (const tx of value.state.txs.values()) {
    const row = valueRow(tx);
    if (row === undefined || isOpen(tx)) openValue.push(tx.txId);
    else rows.push(row);
  }
  for (const b of allBatches(postage.state)) {
    const row = batchRow(b);
    if (row === undefined) openBatches.push(b.batchId);
    else rows.push(row);
  }
  return {
    rows,
    openValue,
    openBatches,
    damage: [value.damage, postage.damage].filter((d): d is string => d !== null),
  };
}

export interface AuditedKiosk {
  id: string;
  /** The meter's serial: with a request id, it names the refill's reservation. */
  serial: string;
  /** The meter's funds (its control total) when the kiosk was set up. */
  startFunds: number;
  /** The meter's control total now. */
  controlTotal: number;
  journals: KioskJournals;
}

export interface AuditReport {
  discrepancies: string[];
  funded: number;
  balance: number;
  reserved: number;
  posted: number;
  reservations: Record<string, number>;
  ledgerRows: number;
}

type Query = <T>(sql: string, values?: unknown[]) => Promise<T[]>;

/**
 * The fleet's books against each other and against the meters: the account against its
 * reservations, the reservations against what each meter's control total says it was credited,
 * the lease rules, and the fleet ledger against every kiosk's journals, row for row.
 */
export async function auditFleet(o: {
  query: Query;
  account: string;
  kiosks: AuditedKiosk[];
}): Promise<AuditReport> {
  const bad: string[] = [];
  const n = (v: unknown): number => Number(v ?? 0);
  const acct = (
    await o.query<{ balance: string; reserved: string; funded: string }>(
      "SELECT balance, reserved, funded FROM fleet_account WHERE id = $1",
      [o.account],
    )
  )[0];
  if (acct === undefined) throw new Error(`no fleet account ${o.account}`);
  const balance = n(acct.balance);
  const reserved = n(acct.reserved);
  const funded = n(acct.funded);
  const fundings = await o.query<{ s: string }>(
    "SELECT coalesce(sum(amount), 0) AS s FROM fleet_funding WHERE account_id = $1",
    [o.account],
  );
  if (n(fundings[0]?.s) !== funded) bad.push(`funded ${funded} ≠ Σ fundings ${n(fundings[0]?.s)}`);

  const res = await o.query<{
    key: string;
    kiosk_id: string;
    amount: string;
    state: string;
    posted: string | null;
    sending_ok: boolean | null;
    has_sending: boolean;
  }>(
    `SELECT key, kiosk_id, amount, state, posted, sending_at <= lease_until AS sending_ok,
            sending_at IS NOT NULL AS has_sending
       FROM fleet_reservation WHERE account_id = $1`,
    [o.account],
  );
  const reservations: Record<string, number> = {};
  let posted = 0;
  let live = 0;
  const postedBy = new Map<string, number>();
  const byKey = new Map(res.map((r) => [r.key, r]));
  for (const r of res) {
    reservations[r.state] = (reservations[r.state] ?? 0) + 1;
    if (r.state === "posted") {
      posted += n(r.posted);
      postedBy.set(r.kiosk_id, (postedBy.get(r.kiosk_id) ?? 0) + n(r.posted));
      if (!r.has_sending) bad.push(`reservation ${r.key} posted but never marked sending`);
      else if (r.sending_ok !== true) bad.push(`reservation ${r.key} posted, marked sending after its lease`);
    }
    if (r.state === "expired" && r.has_sending) bad.push(`reservation ${r.key} expired after it was sending`);
    if (r.state === "open" || r.state === "sending") live += n(r.amount);
    if (r.state === "sending") bad.push(`reservation ${r.key} still sending`);
  }
  if (balance + posted !== funded) bad.push(`balance ${balance} + posted ${posted} ≠ funded ${funded}`);
  if (reserved !== live) bad.push(`reserved ${reserved} ≠ Σ open|sending reservations ${live}`);

  let credited = 0;
  for (const k of o.kiosks) {
    const up = k.controlTotal - k.startFunds;
    credited += up;
    const p = postedBy.get(k.id) ?? 0;
    if (up !== p) bad.push(`kiosk ${k.id}: meter credited ${up}, account posted ${p}`);
  }
  if (credited !== posted) bad.push(`meters credited ${credited} in all, account posted ${posted}`);

  const ledger = await o.query<{
    kiosk_id: string;
    tx_id: string;
    kind: string;
    state: string;
    amount: string;
    body: Record<string, unknown>;
  }>("SELECT kiosk_id, tx_id, kind, state, amount, body FROM fleet_ledger");
  const inLedger = new Map<string, (typeof ledger)[number]>();
  for (const row of ledger) {
    const id = `${row.kiosk_id}/${row.tx_id}`;
    if (inLedger.has(id)) bad.push(`ledger holds ${id} twice`);
    inLedger.set(id, row);
  }
  const inJournals = new Set<string>();
  const settledBy = new Set<string>();
  for (const k of o.kiosks) {
    for (const d of k.journals.damage) bad.push(`kiosk ${k.id}: journal ${d}`);
    for (const t of k.journals.openValue) bad.push(`kiosk ${k.id}: value transaction ${t} still open`);
    for (const b of k.journals.openBatches) bad.push(`kiosk ${k.id}: batch ${b} still open`);
    for (const row of k.journals.rows) {
      const id = `${k.id}/${row.tx_id}`;
      if (inJournals.has(id)) bad.push(`kiosk ${k.id}: ${row.tx_id} in two journals`);
      inJournals.add(id);
      const l = inLedger.get(id);
      if (l === undefined) {
        bad.push(`kiosk ${k.id}: ${row.kind} ${row.tx_id} (${row.state}) not in the fleet ledger`);
        continue;
      }
      if (l.kind !== row.kind || l.state !== row.state || n(l.amount) !== row.amount)
        bad.push(
          `kiosk ${k.id}: ${row.tx_id} is ${row.kind} ${row.state} ${row.amount} in the journal, ${l.kind} ${l.state} ${l.amount} in the ledger`,
        );
      if (row.kind === "refill") {
        // A refill that failed before its REFILL message existed names no reservation: its key is
        // the meter's serial and the request id, and the lease gives the funds back.
        const named = row.body.reservation;
        const key = typeof named === "string" ? named : refillTxnId(k.serial, String(row.body.requestId));
        settledBy.add(key);
        const r = byKey.get(key);
        // Never credited: the reservation was voided, expired unsent, or (unnamed) waits for its lease.
        const fits =
          r !== undefined &&
          r.kiosk_id === k.id &&
          (row.state === "applied"
            ? typeof named === "string" && r.state === "posted" && n(r.posted) === n(row.body.credited)
            : r.state === "voided" ||
              r.state === "expired" ||
              (typeof named !== "string" && r.state === "open"));
        if (r === undefined) bad.push(`kiosk ${k.id}: refill ${row.tx_id} has no reservation ${key}`);
        else if (!fits)
          bad.push(
            `kiosk ${k.id}: refill ${row.tx_id} ${row.state} (credited ${String(row.body.credited)}) but reservation ${key} of ${r.kiosk_id} is ${r.state} ${r.posted}`,
          );
      }
    }
  }
  for (const r of res)
    if (r.state === "posted" && !settledBy.has(r.key))
      bad.push(`reservation ${r.key} posted without a refill in any kiosk's journal`);
  for (const id of inLedger.keys())
    if (!inJournals.has(id)) bad.push(`ledger row ${id} is in no kiosk's journal`);

  // What the database itself set aside as not matching a kiosk's report.
  for (const d of await o.query<{
    kiosk_id: string;
    tx_id: string;
    tx_state: string;
    reservation_state: string;
  }>("SELECT kiosk_id, tx_id, tx_state, reservation_state FROM fleet_discrepancy ORDER BY id"))
    bad.push(
      `fleet_discrepancy: kiosk ${d.kiosk_id} refill ${d.tx_id} ${d.tx_state}, reservation ${d.reservation_state}`,
    );

  return { discrepancies: bad, funded, balance, reserved, posted, reservations, ledgerRows: ledger.length };
}
