import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { defaultApiSocket } from "../../src/api/paths.js";
import { TermhostClient } from "../../src/client/client.js";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../../src/daemon/node-flags.js";
import { createLogger } from "../../src/util/log.js";
import { builtEntry } from "../../src/util/paths.js";
import { daemonThreadpoolEnv } from "../../src/util/threadpool.js";
import { waitUntil } from "../../src/util/wait.js";
import { defaultSimControl } from "../kiosk.js";
import { TEST_VENDOR_KEY } from "../meter/state-file.js";
import type { TrackedProcess } from "../rig/processes.js";
import { Rig } from "../rig/rig.js";
import { defaultScaleControl } from "../scale/control.js";
import { kioskControlServer } from "./kiosk-control.js";
import type { KioskScenario } from "./kiosk-scenario.js";
import { type StartedMeter, startIssuer, startMeter, startScale } from "./spawn-parts.js";
import { StateDir } from "./state-dir.js";

export interface RunOptions {
  scenario: KioskScenario;
  /** Cards, meters, ledgers and the daemon's journals; reused by the next run. */
  stateDir: string;
  daemon: boolean;
  netns: boolean;
  /** The daemon's API socket (default: termhostd's default path). */
  socket?: string;
  /** The kiosk's control socket; when absent, the default paths of termhost-sim's commands are linked to it. */
  control?: string;
  /** Record every slot's APDUs from the start; written here as slot-<n>.apdu when the kiosk stops. */
  record?: string;
}

async function daemonAnswers(socketPath: string): Promise<boolean> {
  try {
    (await TermhostClient.connect({ socketPath, timeoutMs: 1000, reconnect: false })).close();
    return true;
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Objects merge key by key; anything else in `over` replaces what `base` has. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? merge(b, v) : v;
  }
  return out;
}

function link(target: string, path: string): () => void {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  symlinkSync(target, path);
  return () => rmSync(path, { force: true });
}

/**
 * `termhost-sim run`: a whole simulated kiosk from a scenario — private pcscd and the card
 * simulator, meters on pty pairs, scales, the issuer host and (with `daemon`) termhostd configured
 * for all of it — until SIGINT or SIGTERM, which stops it all in order. Prints `ready {json}` last.
 */
export async function runScenario(opts: RunOptions): Promise<void> {
  process.stdout.on("error", () => {});
  const log = createLogger("termhost-sim-run", "info");
  const { scenario } = opts;
  const state = new StateDir(opts.stateDir);
  const apiSocket = opts.socket ?? defaultApiSocket();
  if (opts.daemon && (await daemonAnswers(apiSocket))) {
    throw new Error(`a daemon already answers on ${apiSocket}; stop it first or pass --socket`);
  }
  const slots = scenario.readers.map((r, i) => ({
    card: r.card === undefined ? null : state.cardSpec(r.card, i),
    inserted: r.inserted && r.card !== undefined,
  }));
  // vpcd gives slots in pairs; an odd one out stays empty.
  if (slots.length % 2 === 1) slots.push({ card: null, inserted: false });
  const rig = await Rig.start({ netns: opts.netns ? "auto" : "off", readerEntries: slots.length / 2, slots });
  const unlinks: Array<() => void> = [];
  let daemon: TrackedProcess | undefined;
  try {
    const meters: StartedMeter[] = [];
    for (const m of scenario.meters) {
      const vendorKey = (m.vendorKey ?? TEST_VENDOR_KEY).toLowerCase();
      meters.push(await startMeter(rig, m, state.meterState(m), vendorKey));
    }
    const scales = await Promise.all(scenario.scales.map((s, i) => startScale(rig, s, i)));
    const config = scenario.daemon.config;
    const terminalId =
      (isObject(config.value) && typeof config.value.terminalId === "string" && config.value.terminalId) ||
      "5445524D30303031";
    let issuer: { url: string; adminToken: string; terminalToken: string } | undefined;
    if (scenario.issuer !== undefined) {
      const files = state.issuerState(scenario.issuer, terminalId);
      issuer = { ...files, url: await startIssuer(rig, files.path) };
      if (scenario.issuer.behaviour !== undefined) {
        await fetch(`${issuer.url}/admin/behaviour`, {
          method: "PUT",
          headers: { authorization: `Bearer ${issuer.adminToken}`, "content-type": "application/json" },
          body: JSON.stringify(scenario.issuer.behaviour),
        });
      }
    }

    const controlPath = opts.control ?? join(rig.dir, "kiosk.sock");
    const control = kioskControlServer(
      {
        rig,
        meters: new Map(meters.map((m) => [m.serial, m.control])),
        scales: scales.map((s) => s.control),
        issuer,
        daemonSocket: opts.daemon ? apiSocket : undefined,
      },
      log,
    );
    await control.listenPath(controlPath, 0o600);
    if (opts.control === undefined) {
      unlinks.push(link(controlPath, defaultSimControl()));
      if (scales[0] !== undefined) unlinks.push(link(scales[0].control, defaultScaleControl()));
    }
    if (opts.record !== undefined) await rig.control.call("sim.record.start", {});

    if (opts.daemon) {
      const base: Record<string, unknown> = {
        mode: "simulation",
        logLevel: scenario.daemon.logLevel,
        stateDir: state.daemonDir,
        api: { socketPath: apiSocket },
        pcsc: { socketPath: rig.pcscSocket },
        postage: {
          meters: meters.map((m) => ({
            profile: m.profile,
            port: m.hostPath,
            baudRate: m.baud,
            vendorKey: m.vendorKey,
          })),
        },
        ...(scales.length === 0
          ? {}
          : { scale: { transport: { kind: "socket", paths: scales.map((s) => s.socket) } } }),
        ...(issuer === undefined
          ? {}
          : {
              value: { authorizer: { kind: "issuer", url: issuer.url, terminalToken: issuer.terminalToken } },
            }),
      };
      const configPath = join(rig.dir, "termhostd.json");
      writeFileSync(configPath, JSON.stringify(merge(base, config), null, 2));
      const d = rig.spawn(
        "termhostd",
        process.execPath,
        [...DAEMON_NODE_FLAGS, builtEntry("src/daemon/main.js"), "--config", configPath],
        { ...daemonThreadpoolEnv(), ...DAEMON_ENV },
      );
      daemon = d;
      await waitUntil(
        "termhostd to answer on its socket",
        async () => {
          if (d.child.exitCode !== null) throw new Error(`termhostd exited; see ${d.logPath}`);
          return (await daemonAnswers(apiSocket)) ? true : undefined;
        },
        15_000,
        50,
      );
    }

    const info = {
      control: controlPath,
      api: opts.daemon ? apiSocket : null,
      pcscSocket: rig.pcscSocket,
      readers: rig.readerNames,
      meters: meters.map((m) => ({ serial: m.serial, profile: m.profile, port: m.hostPath })),
      scales: scales.map((s) => s.socket),
      issuer: issuer?.url ?? null,
      state: opts.stateDir,
      logs: rig.dir,
      mode: rig.mode,
    };
    process.stdout.write(
      [
        "termhost simulated kiosk is running",
        `  readers   ${rig.readerNames.join(", ")} (${rig.mode})`,
        `  control   ${controlPath}`,
        ...(opts.daemon ? [`  daemon    ${apiSocket} (log ${daemon?.logPath})`] : []),
        `  state     ${opts.stateDir}`,
        `  logs      ${rig.dir}`,
        `ready ${JSON.stringify(info)}`,
        "",
      ].join("\n"),
    );
  } catch (e) {
    for (const u of unlinks) u();
    await rig.stop();
    throw e;
  }

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      void (async () => {
        if (opts.record !== undefined) {
          await rig.control.call("sim.record.stop", { dir: opts.record }).catch(() => undefined);
        }
        if (daemon !== undefined) await rig.stopProcess(daemon);
        await rig.stop();
        for (const u of unlinks) u();
        resolve();
      })();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    void daemon?.exited.then(({ code, signal }) => {
      if (!stopping) {
        process.stderr.write(`termhostd exited unexpectedly (${code ?? signal}); see ${daemon?.logPath}\n`);
        stop();
      }
    });
  });
}
