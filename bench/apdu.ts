/**
 * 1,000 SELECTs to the same simulated card, through plain pcsclite (the limit) and through the
 * daemon's APDU path (reader manager → card channel → APDU exchange codec), in one run on one rig.
 * Rounds alternate so that drift of the machine affects both sides alike; the median round counts.
 */
import { pino } from "pino";
import { Rig } from "../simulators/rig/rig.js";
import { exchange } from "../src/pcsc/apdu/exchange.js";
import { ReaderManager } from "../src/pcsc/reader-manager.js";
import { waitForEvent } from "../src/util/wait.js";
import { withRawCard } from "../test/support/pcsc-raw.js";

const COUNT = Number(process.env.BENCH_APDU_COUNT ?? 1000);
const ROUNDS = 5;
const SELECT = Buffer.from("00A4040009F07465726D686F7374", "hex");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const rig = await Rig.start({ slots: [{ inserted: true }] });
try {
  const reader = rig.readerNames[0] as string;
  process.env.PCSCLITE_CSOCK_NAME = rig.pcscSocket;
  const manager = new ReaderManager({ log: pino({ level: "silent" }) });
  const present = waitForEvent(manager, "card-inserted", (v: { name: string }) => v.name === reader, 10_000);
  manager.start();
  await present;

  const raw: number[] = [];
  const daemon: number[] = [];
  const runRaw = (): Promise<number> =>
    withRawCard(rig.pcscSocket, reader, async (transmit) => {
      const t0 = performance.now();
      for (let i = 0; i < COUNT; i++) {
        const r = await transmit(SELECT);
        if (r.readUInt16BE(r.length - 2) !== 0x9000) throw new Error("SELECT failed");
      }
      return performance.now() - t0;
    });
  const runDaemon = (): Promise<number> =>
    manager.withCard(reader, "shared", async (channel) => {
      const t0 = performance.now();
      for (let i = 0; i < COUNT; i++)
        await exchange(channel.transmit, { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: SELECT.subarray(5) });
      return performance.now() - t0;
    });
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      raw.push(await runRaw());
      daemon.push(await runDaemon());
    } else {
      daemon.push(await runDaemon());
      raw.push(await runRaw());
    }
  }
  manager.stop();
  const rawMs = median(raw);
  const daemonMs = median(daemon);
  console.log(`rig mode: ${rig.mode}; ${COUNT} SELECTs per round, ${ROUNDS} rounds`);
  console.log(`raw pcsclite:  ${raw.map((x) => x.toFixed(0)).join(", ")} ms (median ${rawMs.toFixed(1)})`);
  console.log(
    `daemon path:   ${daemon.map((x) => x.toFixed(0)).join(", ")} ms (median ${daemonMs.toFixed(1)})`,
  );
  console.log(`ratio daemon/raw: ${(daemonMs / rawMs).toFixed(3)} (limit 1.10)`);
  console.log(
    JSON.stringify({
      bench: "apdu",
      raw_ms: Number(rawMs.toFixed(1)),
      daemon_ms: Number(daemonMs.toFixed(1)),
      ratio: Number((daemonMs / rawMs).toFixed(3)),
      count: COUNT,
      mode: rig.mode,
    }),
  );
} finally {
  await rig.stop();
}
process.exit(0);
