/**
 * A postage service in its own process, for kill -9 tests: opens the journal and the meter on
 * `--port`, then starts batches one after another and prints one line per event on stdout
 * ("ready", "piece <batch> <n>", "end <batch> <state>"). Run as:
 *   node postage-child.js <journal> <port> <baud> <run-tag>
 */
import { PostageService } from "../../../src/postage/postage-service.js";
import { SerialPortTransport } from "../../../src/postage/transport/serialport-transport.js";

const [journalPath, port, baudText, tag] = process.argv.slice(2) as [string, string, string, string];
const baud = Number(baudText);
const service = await PostageService.open({
  journalPath,
  meters: [
    {
      profile: {
        name: "sim",
        port,
        baudRate: baud,
        currency: "EUR",
        heartbeatMs: 200,
        lowFundsThreshold: 0,
        file: "child",
      },
      transport: new SerialPortTransport({ path: port, baudRate: baud }),
      link: { ackMarginMs: 30, responseMarginMs: 80, backoffInitialMs: 10, backoffMaxMs: 100 },
    },
  ],
  journalCompactAtBytes: 0,
});
service.start();
await service.driver("sim").whenReady(10_000);
process.stdout.write("ready\n");
for (let n = 0; ; n++) {
  const pieces = Array.from({ length: 4 }, (_, i) => ({
    amount: 50 + i,
    currency: "EUR",
    class: 1,
    origin: "10115",
  }));
  const view = await service.startBatch(
    { meter: "sim", pieces, requestId: `${tag}-${n}`, onInsufficient: "reject" },
    { onProgress: (v) => process.stdout.write(`piece ${v.batchId} ${v.printedPieces}\n`) },
  );
  const end = await service.waitForEnd(view.batchId, 30_000);
  process.stdout.write(`end ${end.batchId} ${end.state}\n`);
}
