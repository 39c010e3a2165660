/**
 * SELECTs to the same simulated card through plain pcsclite (the limit) and through the daemon's
 * APDU path (reader manager → card channel → APDU exchange codec), on one rig, both connected at
 * once in shared mode. A round is COUNT APDUs each way, sent in blocks of BLOCK that alternate
 * between the two (which side leads alternates too), so that a busy machine slows both sides of a
 * round alike and each round gives one paired ratio (its totals); the limit is on the median of
 * those over the rounds, and the min shows the noise. Per APDU it reports the floor (pcscd, vpcd,
 * the card simulator and pcsclite: the raw side's time) apart from what the daemon adds on top
 * (the paired difference), and this process's CPU on each side. The codec's CPU alone is timed
 * against an in-memory card, where no pcscd noise can hide or inflate it. Each block pair also
 * gives a ratio; their median per round is printed as well, being blind to a block that other
 * work on the machine pre-empted.
 */
import { pino } from "pino";
import { Rig } from "../simulators/rig/rig.js";
import { exchange } from "../src/pcsc/apdu/exchange.js";
import { ReaderManager } from "../src/pcsc/reader-manager.js";
import { waitForEvent } from "../src/util/wait.js";
import { withRawCard } from "../test/support/pcsc-raw.js";

const COUNT = Number(process.env.BENCH_APDU_COUNT ?? 1000);
const ROUNDS = Number(process.env.BENCH_APDU_ROUNDS ?? 15);
const BLOCK = 50;
/** Rounds run first and not counted: until the JIT has compiled both paths, the first is slow. */
const WARMUP_ROUNDS = Number(process.env.BENCH_APDU_WARMUP_ROUNDS ?? 3);
const LIMIT = 1.1;
const SELECT = Buffer.from("00A4040009F07465726D686F7374", "hex");
const COMMAND = { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: SELECT.subarray(5) };
const OK = Buffer.from("9000", "hex");

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
const round3 = (x: number): number => Number(x.toFixed(3));
const round1 = (x: number): number => Number(x.toFixed(1));

/** exchange() over a card that answers at once: the codec's CPU per APDU, in µs. */
async function codecUs(n: number): Promise<number> {
  const transmit = (): Promise<Buffer> => Promise.resolve(OK);
  for (let i = 0; i < n / 10; i++) await exchange(transmit, COMMAND);
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await exchange(transmit, COMMAND);
  return cpuUs(c0) / n;
}

/** This process's CPU (all its threads, the binding's included) since `from`, in µs. */
function cpuUs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return d.user + d.system;
}
const cpu = { raw: 0, daemon: 0 };
const warmup: Array<{ raw: number; daemon: number }> = [];

const rig = await Rig.start({ slots: [{ inserted: true }] });
try {
  const reader = rig.readerNames[0] as string;
  process.env.PCSCLITE_CSOCK_NAME = rig.pcscSocket;
  const manager = new ReaderManager({ log: pino({ level: "silent" }) });
  const present = waitForEvent(manager, "card-inserted", (v: { name: string }) => v.name === reader, 10_000);
  manager.start();
  await present;

  const rounds = await withRawCard(rig.pcscSocket, reader, (rawTransmit) =>
    manager.withCard(reader, "shared", async (channel) => {
      const rawBlock = async (n: number): Promise<number> => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          const r = await rawTransmit(SELECT);
          if (r.readUInt16BE(r.length - 2) !== 0x9000) throw new Error("SELECT failed");
        }
        const ms = performance.now() - t0;
        cpu.raw += cpuUs(c0);
        return ms;
      };
      const daemonBlock = async (n: number): Promise<number> => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let i = 0; i < n; i++) await exchange(channel.transmit, COMMAND);
        const ms = performance.now() - t0;
        cpu.daemon += cpuUs(c0);
        return ms;
      };
      const round = async (index: number): Promise<{ raw: number; daemon: number; pairs: number[] }> => {
        let raw = 0;
        let daemon = 0;
        const pairs: number[] = [];
        for (let sent = 0, block = 0; sent < COUNT; sent += BLOCK, block++) {
          const n = Math.min(BLOCK, COUNT - sent);
          let r: number;
          let d: number;
          if ((index + block) % 2 === 0) {
            r = await rawBlock(n);
            d = await daemonBlock(n);
          } else {
            d = await daemonBlock(n);
            r = await rawBlock(n);
          }
          raw += r;
          daemon += d;
          pairs.push(d / r);
        }
        return { raw, daemon, pairs };
      };
      for (let i = 0; i < WARMUP_ROUNDS; i++) warmup.push(await round(i));
      cpu.raw = 0;
      cpu.daemon = 0;
      const out: Array<{ raw: number; daemon: number; pairs: number[] }> = [];
      for (let i = 0; i < ROUNDS; i++) out.push(await round(i));
      return out;
    }),
  );
  manager.stop();
  const codec = await codecUs(200_000);

  const ratios = rounds.map((r) => r.daemon / r.raw);
  const rawUs = rounds.map((r) => (r.raw * 1000) / COUNT);
  const addedUs = rounds.map((r) => ((r.daemon - r.raw) * 1000) / COUNT);
  const pairRatios = rounds.map((r) => median(r.pairs));
  const ratioMedian = median(ratios);
  const ratioMin = Math.min(...ratios);
  console.log(
    `rig mode: ${rig.mode}; ${COUNT} SELECTs each way per round in alternating blocks of ${BLOCK}, ${ROUNDS} rounds after ${WARMUP_ROUNDS} of warm-up`,
  );
  console.log(
    `warm-up rounds (not counted): ratio ${warmup.map((r) => (r.daemon / r.raw).toFixed(3)).join(", ")}`,
  );
  console.log(`raw pcsclite:  ${rounds.map((r) => r.raw.toFixed(0)).join(", ")} ms`);
  console.log(`daemon path:   ${rounds.map((r) => r.daemon.toFixed(0)).join(", ")} ms`);
  console.log(`ratio daemon/raw per round: ${ratios.map((x) => x.toFixed(3)).join(", ")}`);
  console.log(
    `ratio min ${ratioMin.toFixed(3)}, median ${ratioMedian.toFixed(3)} (limit: median ≤ ${LIMIT.toFixed(2)}: ${ratioMedian <= LIMIT ? "met" : "missed"})`,
  );
  console.log(
    `median block-pair ratio per round (robust to a block pre-empted by other work): ${pairRatios.map((x) => x.toFixed(3)).join(", ")}; median ${median(pairRatios).toFixed(3)}`,
  );
  const cpuRawUs = cpu.raw / (COUNT * ROUNDS);
  const cpuDaemonUs = cpu.daemon / (COUNT * ROUNDS);
  console.log(
    `this process's CPU per APDU: raw ${cpuRawUs.toFixed(1)} µs, daemon path ${cpuDaemonUs.toFixed(1)} µs`,
  );
  console.log(
    `per APDU: pcscd+vpcd+card+pcsclite ${median(rawUs).toFixed(1)} µs (median), daemon adds ${median(addedUs).toFixed(1)} µs (median; min ${Math.min(...addedUs).toFixed(1)}); codec CPU alone ${codec.toFixed(2)} µs`,
  );
  console.log(
    JSON.stringify({
      bench: "apdu",
      ratio_median: round3(ratioMedian),
      ratio_min: round3(ratioMin),
      ratios: ratios.map(round3),
      within_limit: ratioMedian <= LIMIT,
      pair_ratio_median: round3(median(pairRatios)),
      raw_us_per_apdu: round1(median(rawUs)),
      daemon_added_us_per_apdu: round1(median(addedUs)),
      codec_us_per_apdu: Number(codec.toFixed(2)),
      cpu_raw_us_per_apdu: round1(cpuRawUs),
      cpu_daemon_us_per_apdu: round1(cpuDaemonUs),
      count: COUNT,
      rounds: ROUNDS,
      warmup_ratios: warmup.map((r) => round3(r.daemon / r.raw)),
      mode: rig.mode,
    }),
  );
} finally {
  await rig.stop();
}
process.exit(0);
