import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MeterSimulator, startMeterSimulator } from "../../../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState } from "../../../simulators/meter/state-file.js";
import { ProcessGroup } from "../../../simulators/rig/processes.js";
import { type PtyPair, startPtyPair } from "../../../simulators/rig/socat.js";
import { type JournalFs, openJournal } from "../../../src/journal/index.js";
import { ledgerJournalOptions } from "../../../src/postage/ledger/ledger.js";
import { type LedgerState, reduceLedger, reservedOn } from "../../../src/postage/ledger/state.js";
import type { MeterProfile } from "../../../src/postage/meter/profile.js";
import { PostageService } from "../../../src/postage/postage-service.js";
import { SerialPortTransport } from "../../../src/postage/transport/serialport-transport.js";

export const SERIAL = "PM0042";
export const METER = "sim";

/** A pty pair with the meter simulator on its device end, in this process, and a temp folder. */
export interface MeterBench {
  dir: string;
  pty: PtyPair;
  sim: MeterSimulator;
  stateFile: string;
  group: ProcessGroup;
  journalPath: string;
  profile: MeterProfile;
  close(): Promise<void>;
}

export async function startMeterBench(o: {
  baud: number;
  funds: number;
  lowFundsThreshold?: number;
}): Promise<MeterBench> {
  const dir = mkdtempSync(join(tmpdir(), "postage-"));
  const stateFile = join(dir, "meter.json");
  const registers = {
    ...freshMeterState().registers,
    descending: o.funds,
    controlTotal: o.funds,
    serial: SERIAL,
  };
  saveMeterState(stateFile, freshMeterState({ serial: SERIAL, registers }));
  const group = new ProcessGroup();
  const pty = await startPtyPair(group, dir, "meter");
  const sim = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: o.baud });
  const profile: MeterProfile = {
    name: METER,
    port: pty.hostPath,
    baudRate: o.baud,
    currency: "EUR",
    heartbeatMs: 200,
    lowFundsThreshold: o.lowFundsThreshold ?? 0,
    file: "test",
  };
  return {
    dir,
    pty,
    sim,
    stateFile,
    group,
    journalPath: join(dir, "postage.journal"),
    profile,
    async close() {
      await sim.close();
      await group.stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fast line timers for tests: a fault is noticed within tens of milliseconds. */
export const FAST_LINK = { ackMarginMs: 30, responseMarginMs: 80, backoffInitialMs: 10, backoffMaxMs: 100 };

export async function openService(
  b: MeterBench,
  extra: { publish?: (d: Record<string, unknown>) => void; vendorKey?: string; journalFs?: JournalFs } = {},
): Promise<PostageService> {
  const service = await PostageService.open({
    journalPath: b.journalPath,
    meters: [
      {
        profile: b.profile,
        transport: new SerialPortTransport({ path: b.pty.hostPath, baudRate: b.profile.baudRate }),
        link: FAST_LINK,
      },
    ],
    ...(extra.vendorKey === undefined ? {} : { vendorKeys: { [METER]: extra.vendorKey } }),
    ...(extra.publish === undefined ? {} : { publish: extra.publish }),
    ...(extra.journalFs === undefined ? {} : { journalFs: extra.journalFs }),
    journalCompactAtBytes: 0,
  });
  service.start();
  await service.driver(METER).whenReady(10_000);
  return service;
}

export interface JournalAudit {
  records: number;
  /** Records after which the open reservations of a meter exceeded its balance mirror. */
  violations: Array<{ seq: number; type: string; reserved: number; balance: number }>;
  printed: Array<{ txnId: string; sequence: number; batchId: string }>;
  state: LedgerState;
}

/**
 * Replays the journal file record by record, checking reserved ≤ balance after each one, and lists
 * every indicium recorded. Run it while no service holds the journal.
 */
export async function auditJournal(path: string): Promise<JournalAudit> {
  const violations: JournalAudit["violations"] = [];
  const printed: JournalAudit["printed"] = [];
  let records = 0;
  const base = ledgerJournalOptions({ path, compactAtBytes: 0 });
  const j = await openJournal({
    ...base,
    create: false,
    reduce: (state, record) => {
      records++;
      const next = reduceLedger(state, record);
      if (record.type === "indicium.printed")
        printed.push({
          txnId: record.body.txnId,
          sequence: record.body.sequence,
          batchId: record.body.batchId,
        });
      for (const [meter, m] of next.meters) {
        const reserved = reservedOn(next, meter);
        if (reserved > m.balance)
          violations.push({ seq: record.seq, type: record.type, reserved, balance: m.balance });
      }
      return next;
    },
  });
  const state = j.state;
  await j.close();
  return { records, violations, printed, state };
}
