/**
 * Load on the kiosk socket: 64 clients each issue `system.status` back to back for a fixed time
 * against a real termhostd child process. Reports latency percentiles, throughput, and the
 * daemon's resident memory before and after the load (from /proc/<pid>/status).
 *
 * The daemon runs without pcscd (its PC/SC state is "down"), so the figures are those of the
 * socket API itself: framing, validation, dispatch and replies. Rate limits are raised out of the
 * way; the clients share this one process, so their own cost is part of the latency. The CPU time
 * per request of the daemon and of the clients is printed too, with the machine's load average:
 * on a machine busy with other work the latency grows with the load, the CPU per request hardly.
 * BENCH_API_NODE_FLAGS passes node flags to the daemon (e.g. --cpu-prof).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../src/daemon/node-flags.js";
import { RpcClient } from "../src/jsonrpc/client.js";
import { builtEntry } from "../src/util/paths.js";
import { waitUntil } from "../src/util/wait.js";

const CLIENTS = Number(process.env.BENCH_API_CLIENTS ?? 64);
const SECONDS = Number(process.env.BENCH_API_SECONDS ?? 10);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** CPU time of a process so far, in ms (utime + stime from /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may itself hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const dir = mkdtempSync(join(tmpdir(), "termhost-bench-api-"));
const socketPath = join(dir, "api.sock");
const configPath = join(dir, "termhostd.json");
writeFileSync(
  configPath,
  JSON.stringify({
    logLevel: "warn",
    stateDir: join(dir, "state"),
    api: {
      socketPath,
      maxConnections: CLIENTS + 8,
      requestsPerSecond: 1_000_000,
      requestBurst: 1_000_000,
    },
    pcsc: { socketPath: join(dir, "no-pcscd.comm"), retryMinMs: 1000, retryMaxMs: 5000 },
    value: { terminalId: "0011223344556677" },
  }),
);
// BENCH_API_NODE_FLAGS passes node flags to the daemon, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof";
// the daemon ends on SIGTERM through its own shutdown, so a profile is written.
const nodeFlags = (process.env.BENCH_API_NODE_FLAGS ?? "").split(" ").filter((f) => f !== "");
const daemon = spawn(
  process.execPath,
  [...DAEMON_NODE_FLAGS, ...nodeFlags, builtEntry("src/daemon/main.js"), "--config", configPath],
  { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, ...DAEMON_ENV } },
);
const pid = daemon.pid;
if (pid === undefined) throw new Error("termhostd did not start");

try {
  await waitUntil(
    "termhostd to answer",
    async () => {
      if (daemon.exitCode !== null) throw new Error(`termhostd exited with ${daemon.exitCode}`);
      try {
        const c = await RpcClient.connect(socketPath, { timeoutMs: 1000 });
        await c.call("system.status", {});
        c.close();
        return true;
      } catch {
        return undefined;
      }
    },
    15_000,
    25,
  );
  const clients = await Promise.all(
    Array.from({ length: CLIENTS }, () => RpcClient.connect(socketPath, { timeoutMs: 10_000 })),
  );
  const rssStart = rssMb(pid);
  const daemonCpu0 = cpuMs(pid);
  const ownCpu0 = process.cpuUsage();
  const latencies: number[][] = clients.map(() => []);
  let errors = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  await Promise.all(
    clients.map(async (c, i) => {
      const mine = latencies[i] as number[];
      while (performance.now() < end) {
        const s = performance.now();
        try {
          await c.call("system.status", {});
          mine.push(performance.now() - s);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const rssEnd = rssMb(pid);
  const daemonCpu = cpuMs(pid) - daemonCpu0;
  const own = process.cpuUsage(ownCpu0);
  for (const c of clients) c.close();

  const all = Float64Array.from(latencies.flat()).sort();
  const p50 = percentile(all, 50);
  const p99 = percentile(all, 99);
  const perSecond = all.length / elapsed;
  console.log(`${CLIENTS} clients, ${SECONDS} s: ${all.length} replies, ${errors} errors`);
  console.log(
    `latency p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, max ${(all.at(-1) ?? 0).toFixed(1)} ms`,
  );
  console.log(
    `throughput ${perSecond.toFixed(0)} requests/s; daemon RSS ${rssStart.toFixed(1)} → ${rssEnd.toFixed(1)} MB`,
  );
  // CPU per request: what the load of the machine inflates in latency but not here.
  const daemonUs = (daemonCpu * 1000) / all.length;
  const clientsUs = (own.user + own.system) / all.length;
  console.log(
    `CPU per request: daemon ${daemonUs.toFixed(1)} µs, the ${CLIENTS} clients ${clientsUs.toFixed(1)} µs; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  if (errors > 0) process.exitCode = 1;
  console.log(
    JSON.stringify({
      bench: "api",
      p50_ms: Number(p50.toFixed(3)),
      p99_ms: Number(p99.toFixed(3)),
      req_per_s: Math.round(perSecond),
      rss_start_mb: Number(rssStart.toFixed(1)),
      rss_end_mb: Number(rssEnd.toFixed(1)),
      daemon_cpu_us_per_req: Number(daemonUs.toFixed(1)),
      clients_cpu_us_per_req: Number(clientsUs.toFixed(1)),
      load_avg_1m: Number((loadavg()[0] ?? 0).toFixed(2)),
      clients: CLIENTS,
      seconds: SECONDS,
      errors,
    }),
  );
} finally {
  daemon.kill("SIGTERM");
  await new Promise((r) => daemon.once("exit", r));
}
