import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MeterSimulator } from "../../simulators/meter/meter-simulator.js";
import { startMeterSimulator } from "../../simulators/meter/meter-simulator.js";
import {
  freshMeterState,
  saveMeterState,
  TEST_MAC_KEY,
  TEST_VENDOR_KEY,
} from "../../simulators/meter/state-file.js";
import { vendorAuthorize } from "../../simulators/meter/vendor.js";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { startPtyPair } from "../../simulators/rig/socat.js";
import { verifyCmac } from "../../src/crypto/index.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { indiciumMacInput, type PrintRequest, type Registers } from "../../src/postage/protocol/index.js";
import { MeterLink } from "../../src/postage/transport/meter-link.js";
import { SerialPortTransport } from "../../src/postage/transport/serialport-transport.js";
import { waitForEvent } from "../../src/util/wait.js";

const BAUD = 115_200;
const SERIAL = "PM0042";
let txnCounter = 0;

function txn(): string {
  txnCounter++;
  return txnCounter.toString(16).padStart(32, "0");
}

function piece(amount: number, txnId = txn()): PrintRequest {
  return { txnId, amount, date: "2025-06-02", mailClass: 1, origin: "10115" };
}

function balanced(r: Registers): boolean {
  return r.ascending + r.descending === r.controlTotal;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "no error";
  } catch (e) {
    return isTermhostError(e) ? e.code : `untyped: ${String(e)}`;
  }
}

describe("meter protocol over a real socat pty pair", () => {
  let dir: string;
  let group: ProcessGroup;
  let sim: MeterSimulator;
  let link: MeterLink;
  let today = new Date("2025-06-02T10:00:00Z");

  async function up(): Promise<void> {
    if (!link.isUp) await waitForEvent(link, "up", () => true, 10_000);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "meter-pty-"));
    const stateFile = join(dir, "meter.json");
    const registers = {
      ...freshMeterState().registers,
      descending: 10_000,
      controlTotal: 10_000,
      serial: SERIAL,
    };
    saveMeterState(stateFile, freshMeterState({ serial: SERIAL, registers, inspectionDue: "2025-12-31" }));
    group = new ProcessGroup();
    const pty = await startPtyPair(group, dir, "meter");
    sim = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: BAUD, now: () => today });
    link = new MeterLink(new SerialPortTransport({ path: pty.hostPath, baudRate: BAUD }), {
      baudRate: BAUD,
      ackMarginMs: 60,
      responseMarginMs: 250,
      heartbeatMs: 300,
      backoffInitialMs: 20,
      backoffMaxMs: 200,
    });
    const first = waitForEvent(link, "up", () => true, 10_000);
    link.start();
    await first;
  });

  afterAll(async () => {
    await link?.stop();
    await sim?.close();
    await group?.stopAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("prints several indicia with valid MACs and balanced registers", async () => {
    const before = await link.getRegisters();
    const indicia = [];
    for (const amount of [85, 100, 155, 270]) indicia.push(await link.print(piece(amount)));
    const after = await link.getRegisters();
    expect(after.pieceCount - before.pieceCount).toBe(4);
    expect(after.ascending - before.ascending).toBe(610);
    expect(before.descending - after.descending).toBe(610);
    expect(balanced(after)).toBe(true);
    expect(indicia.map((i) => i.sequence)).toEqual([1, 2, 3, 4].map((n) => before.pieceCount + n));
    for (const i of indicia) {
      const { mac, ...body } = i;
      expect(
        verifyCmac(Buffer.from(TEST_MAC_KEY, "hex"), indiciumMacInput(body), Buffer.from(mac, "hex")),
      ).toBe(true);
      expect(i.serial).toBe(SERIAL);
    }
    expect(sim.registers()).toEqual(after);
  });

  it("never prints a transaction id twice: resent request, or retransmission after a slow response", async () => {
    const printsBefore = sim.core.printsExecuted;
    const req = piece(120);
    const first = await link.print(req);
    expect(await link.print(req)).toEqual(first);
    expect(await codeOf(link.print({ ...req, amount: 121 }))).toBe("METER_REFUSED");
    expect(sim.core.printsExecuted - printsBefore).toBe(1);

    // The response comes later than the host waits: it retransmits with the same sequence number.
    const receivedBefore = sim.received.length;
    sim.setResponseDelay(400);
    try {
      await link.print(piece(130));
    } finally {
      sim.setResponseDelay(0);
    }
    const seen = sim.received.slice(receivedBefore).filter((r) => r.command === "PRINT INDICIUM");
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.slice(1).every((r) => r.duplicate && r.seq === seen[0]?.seq)).toBe(true);
    expect(sim.core.printsExecuted - printsBefore).toBe(2);
    expect(balanced(await link.getRegisters())).toBe(true);
  });

  it("recovers corrupted bytes in either direction by NAK or retransmission", async () => {
    await up();
    const before = await link.getRegisters();
    const dropsBefore = sim.frameDrops.length;
    sim.corruptNext(6, "toMeter");
    await link.print(piece(50));
    expect(sim.frameDrops.length).toBeGreaterThan(dropsBefore);
    sim.corruptNext(12, "fromMeter");
    await link.print(piece(60));
    // Corrupt the response only: the ACK (6 wire bytes) goes through, the response does not.
    const receivedBefore = sim.received.length;
    sim.behaviours.unshift(() => {
      sim.corruptNext(3, "fromMeter");
      sim.behaviours.shift();
      return undefined;
    });
    await link.print(piece(70));
    expect(sim.received.length).toBe(receivedBefore + 1);
    const after = await link.getRegisters();
    expect(after.pieceCount - before.pieceCount).toBe(3);
    expect(after.ascending - before.ascending).toBe(180);
    expect(balanced(after)).toBe(true);
  });

  it("fails a cut-off exchange with a typed error, comes back after the cable is restored, prints once", async () => {
    await up();
    const before = await link.getRegisters();
    const printsBefore = sim.core.printsExecuted;
    // Cut after the request and the ACK are through, in the middle of the response: the meter prints.
    const req = piece(99);
    sim.behaviours.unshift(() => {
      sim.cutCableAt(10);
      sim.behaviours.shift();
      return undefined;
    });
    const down = waitForEvent(link, "down", () => true, 10_000);
    expect(await codeOf(link.print(req))).toMatch(/^METER_(TIMEOUT|DISCONNECTED)$/);
    await down;
    expect(sim.cableCut).toBe(true);
    expect(await codeOf(link.getRegisters())).toBe("METER_DISCONNECTED");
    sim.restoreCable();
    await up();
    const last = await link.getLastTransaction();
    expect(last.kind === "print" && last.indicium.txnId).toBe(req.txnId);
    // The host resends with the same id and gets the indicium that was printed.
    const again = await link.print(req);
    expect(last.kind === "print" && last.indicium).toEqual(again);
    expect(sim.core.printsExecuted - printsBefore).toBe(1);

    // Cut in the middle of the request: nothing printed; the retry after restore prints once.
    const req2 = piece(44);
    sim.cutCableAt(8);
    expect(await codeOf(link.print(req2))).toMatch(/^METER_(TIMEOUT|DISCONNECTED)$/);
    sim.restoreCable();
    await up();
    const lastAfterCut = await link.getLastTransaction();
    expect(lastAfterCut.kind === "print" && lastAfterCut.indicium.txnId).toBe(req.txnId);
    await link.print(req2);
    const after = await link.getRegisters();
    expect(after.pieceCount - before.pieceCount).toBe(2);
    expect(after.ascending - before.ascending).toBe(143);
    expect(balanced(after)).toBe(true);
  });

  it("refills with a vendor authorization, refuses a forged one, finishes an interrupted refill once", async () => {
    await up();
    const before = await link.getRegisters();
    const r1 = {
      txnId: txn(),
      amount: 5000,
      controlTotalBefore: before.controlTotal,
      nextInspection: "2026-06-30",
    };
    const afterRefill = await link.refill({
      ...r1,
      authorization: vendorAuthorize(TEST_VENDOR_KEY, SERIAL, r1),
    });
    expect(afterRefill.controlTotal - before.controlTotal).toBe(5000);
    expect(afterRefill.descending - before.descending).toBe(5000);
    expect(balanced(afterRefill)).toBe(true);
    const forged = {
      txnId: txn(),
      amount: 9000,
      controlTotalBefore: afterRefill.controlTotal,
      nextInspection: "2026-06-30",
    };
    expect(await codeOf(link.refill({ ...forged, authorization: "00".repeat(16) }))).toBe("METER_REFUSED");
    const other = vendorAuthorize(TEST_VENDOR_KEY, "OTHER", forged);
    expect(await codeOf(link.refill({ ...forged, authorization: other }))).toBe("METER_REFUSED");
    // A genuine authorization for another control total (the one before r1): applied already, or
    // stale — the meter refuses it, however long ago it forgot the transaction id.
    const stale = { ...r1, txnId: txn() };
    await expect(
      link.refill({ ...stale, authorization: vendorAuthorize(TEST_VENDOR_KEY, SERIAL, stale) }),
    ).rejects.toMatchObject({ code: "METER_REFUSED", context: { result: "CONTROL_TOTAL_MISMATCH" } });
    expect((await link.getRegisters()).controlTotal).toBe(afterRefill.controlTotal);

    // Power fails after the pending credit is on disk; power-up finishes it; a resend does not repeat it.
    const r2 = {
      txnId: txn(),
      amount: 700,
      controlTotalBefore: afterRefill.controlTotal,
      nextInspection: "2026-06-30",
    };
    const request = { ...r2, authorization: vendorAuthorize(TEST_VENDOR_KEY, SERIAL, r2) };
    sim.tearNextRefill();
    expect(await codeOf(link.refill(request))).toMatch(/^METER_(TIMEOUT|DISCONNECTED)$/);
    expect(sim.isPowered).toBe(false);
    expect(sim.state().pendingRefill?.txnId).toBe(r2.txnId);
    sim.powerOn();
    expect(sim.core.recoveredRefills).toBe(1);
    await up();
    const resent = await link.refill(request);
    expect(resent.controlTotal - afterRefill.controlTotal).toBe(700);
    expect(await link.getLastTransaction()).toMatchObject({ kind: "refill", txnId: r2.txnId, amount: 700 });
    expect((await link.getStatus()).refillPending).toBe(false);
    expect(balanced(await link.getRegisters())).toBe(true);
  });

  it("locks when inspection is overdue and unlocks with a vendor contact", async () => {
    await up();
    const due = (await link.getStatus()).inspectionDue;
    today = new Date(`${due}T00:00:00Z`);
    today.setUTCDate(today.getUTCDate() + 1);
    const status = await link.getStatus();
    expect(status.locked).toBe(true);
    const before = await link.getRegisters();
    expect(await codeOf(link.print(piece(10)))).toBe("METER_LOCKED");
    expect(await link.getRegisters()).toEqual(before);
    const contact = {
      txnId: txn(),
      amount: 0,
      controlTotalBefore: before.controlTotal,
      nextInspection: "2030-01-01",
    };
    await link.refill({ ...contact, authorization: vendorAuthorize(TEST_VENDOR_KEY, SERIAL, contact) });
    expect((await link.getStatus()).locked).toBe(false);
    await link.print(piece(10));
  });

  it("survives a power cycle: registers kept, a resent PRINT still answered from the file", async () => {
    await up();
    const req = piece(33);
    const printed = await link.print(req);
    const before = await link.getRegisters();
    sim.powerCycle();
    expect(await link.print(req)).toEqual(printed);
    expect(await link.getRegisters()).toEqual(before);
  });
});
