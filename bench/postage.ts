/**
 * Postage throughput through a real pty at 115200 baud against the wire limit of the same frames:
 *   wire_limit_per_s  baud / (10 × (PRINT request + ACK + response + ACK bytes on the wire)), from
 *                     the frames of an indicium printed in this run (escapes included)
 *   indicia_per_s     one client printing one batch: journal intent, PRINT, journal indicium, serially
 *   clients16_per_s   16 clients running batches at once against the same meter
 * The last line is one JSON object with the figures.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startMeterSimulator } from "../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState } from "../simulators/meter/state-file.js";
import { ProcessGroup } from "../simulators/rig/processes.js";
import { startPtyPair } from "../simulators/rig/socat.js";
import type { PieceSpec } from "../src/postage/ledger/records.js";
import { PostageService } from "../src/postage/postage-service.js";
import { Commands, encodeFrame, FrameType, okPayload, responseType } from "../src/postage/protocol/index.js";
import { SerialPortTransport } from "../src/postage/transport/serialport-transport.js";

const BAUD = 115_200;
const SINGLE_PIECES = 300;
const CLIENTS = 16;
const PIECES_PER_CLIENT = 25;

const dir = mkdtempSync(join(tmpdir(), "bench-postage-"));
const group = new ProcessGroup();
try {
  const stateFile = join(dir, "meter.json");
  const funds = 100_000_000;
  const registers = {
    ...freshMeterState().registers,
    descending: funds,
    controlTotal: funds,
    serial: "PM0042",
  };
  saveMeterState(stateFile, freshMeterState({ serial: "PM0042", registers }));
  const pty = await startPtyPair(group, dir, "meter");
  const sim = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: BAUD });
  const service = await PostageService.open({
    journalPath: join(dir, "postage.journal"),
    meters: [
      {
        profile: {
          name: "m",
          port: pty.hostPath,
          baudRate: BAUD,
          currency: "EUR",
          heartbeatMs: 1000,
          lowFundsThreshold: 0,
          file: "bench",
        },
        transport: new SerialPortTransport({ path: pty.hostPath, baudRate: BAUD }),
      },
    ],
  });
  service.start();
  await service.driver("m").whenReady(10_000);
  const piece = (i: number): PieceSpec => ({
    amount: 55 + (i % 7),
    currency: "EUR",
    class: 1,
    origin: "10115",
  });

  const runBatch = async (requestId: string, n: number) => {
    const started = await service.startBatch({
      meter: "m",
      pieces: Array.from({ length: n }, (_, i) => piece(i)),
      requestId,
      onInsufficient: "reject",
    });
    const end = await service.waitForEnd(started.batchId, 600_000);
    if (end.state !== "completed" || end.printedPieces !== n) throw new Error(`batch ended ${end.state}`);
    return end;
  };

  await runBatch("warm-up", 10);
  let t0 = performance.now();
  await runBatch("single", SINGLE_PIECES);
  const singleS = (performance.now() - t0) / 1000;
  const indiciaPerS = SINGLE_PIECES / singleS;

  t0 = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => runBatch(`client-${c}`, PIECES_PER_CLIENT)));
  const clientsS = (performance.now() - t0) / 1000;
  const clients16 = (CLIENTS * PIECES_PER_CLIENT) / clientsS;

  // The frames of one indicium of this run, as they crossed the line.
  const state = sim.state().recent.findLast((t) => t.kind === "print");
  if (state?.kind !== "print") throw new Error("printed indicium not found on the meter");
  const seq = 0x42;
  const request = encodeFrame({
    seq,
    type: Commands.print.code,
    payload: Commands.print.request.serialize(state.request),
  });
  const response = encodeFrame({
    seq,
    type: responseType(Commands.print.code),
    payload: okPayload(Commands.print.response.serialize(state.indicium)),
  });
  const ack = encodeFrame({ seq, type: FrameType.ACK, payload: Buffer.alloc(0) });
  const bytesPerIndicium = request.length + response.length + 2 * ack.length;
  const wireLimit = BAUD / (10 * bytesPerIndicium);

  console.log(
    `frames per indicium: request ${request.length} B, response ${response.length} B, 2 × ACK ${ack.length} B = ${bytesPerIndicium} B at ${BAUD} baud`,
  );
  console.log(
    `single client: ${SINGLE_PIECES} indicia in ${singleS.toFixed(2)} s = ${indiciaPerS.toFixed(1)}/s (${((100 * indiciaPerS) / wireLimit).toFixed(1)} % of the wire limit ${wireLimit.toFixed(1)}/s)`,
  );
  console.log(
    `${CLIENTS} clients: ${CLIENTS * PIECES_PER_CLIENT} indicia in ${clientsS.toFixed(2)} s = ${clients16.toFixed(1)}/s`,
  );
  await service.stop();
  await sim.close();
  console.log(
    JSON.stringify({
      bench: "postage",
      indicia_per_s: Math.round(indiciaPerS * 10) / 10,
      wire_limit_per_s: Math.round(wireLimit * 10) / 10,
      clients16_per_s: Math.round(clients16 * 10) / 10,
    }),
  );
} finally {
  await group.stopAll();
  rmSync(dir, { recursive: true, force: true });
}
