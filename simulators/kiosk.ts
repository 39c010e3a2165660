import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultApiSocket, defaultRuntimeDir } from "../src/api/paths.js";
import { TermhostClient } from "../src/client/client.js";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "../src/daemon/node-flags.js";
import { builtEntry, projectRoot } from "../src/util/paths.js";
import { daemonThreadpoolEnv } from "../src/util/threadpool.js";
import { waitUntil } from "../src/util/wait.js";
import { freshMeterState, saveMeterState, TEST_VENDOR_KEY } from "./meter/state-file.js";
import { Rig } from "./rig/rig.js";
import { startKioskScale } from "./scale/kiosk-scale.js";

export interface KioskOptions {
  daemon: boolean;
  netns: boolean;
  socket?: string;
  logLevel: string;
}

/** The meter profile of the simulated kiosk (device-profiles/meters). */
export const KIOSK_METER = "termhost simulated meter";

/** The simulated kiosk's MIFARE DESFire card (termhost's value application, EUR). */
export const KIOSK_DESFIRE_UID = "04A1B2C3D4E5F6";

/** The default control socket path that `termhost-sim insert|remove|status` uses. */
export function defaultSimControl(): string {
  return process.env.TERMHOST_SIM_CONTROL ?? join(defaultRuntimeDir(), "sim.sock");
}

async function daemonAnswers(socketPath: string): Promise<boolean> {
  try {
    const c = await TermhostClient.connect({ socketPath, timeoutMs: 1000 });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * `make run`: a simulated kiosk on this machine — private pcscd with two vpcd slots, the card
 * simulator, and termhostd on top — until Ctrl-C, which stops all of it in order.
 */
export async function runKiosk(opts: KioskOptions): Promise<void> {
  // A closed terminal or pipe must not stop the orderly shutdown below.
  process.stdout.on("error", () => {});
  const apiSocket = opts.socket ?? defaultApiSocket();
  const controlLink = defaultSimControl();
  if (opts.daemon && (await daemonAnswers(apiSocket))) {
    throw new Error(
      `a daemon already answers on ${apiSocket}; stop it first or pass --socket to use another path`,
    );
  }
  // Card and SAM state outlive the kiosk, so a balance loaded today is there tomorrow.
  const stateDir = process.env.TERMHOST_KIOSK_STATE ?? join(projectRoot(), ".run", "kiosk");
  mkdirSync(stateDir, { recursive: true });
  const rig = await Rig.start({
    netns: opts.netns ? "auto" : "off",
    // Two vpcd readers of two slots: the purse and the SAM in the first, a DESFire card in the second.
    readerEntries: 2,
    slots: [
      {
        card: {
          kind: "purse",
          cardId: "7465726D00000001",
          currency: 978,
          balance: 2500,
          maxBalance: 100_000,
          statePath: join(stateDir, "purse-7465726D00000001.json"),
        },
        inserted: false,
      },
      { card: { kind: "sam", ledgerPath: join(stateDir, "sam-ledger.json") }, inserted: true },
      {
        card: {
          kind: "desfire",
          uid: KIOSK_DESFIRE_UID,
          balance: 1500,
          upperLimit: 100_000,
          statePath: join(stateDir, `desfire-${KIOSK_DESFIRE_UID}.json`),
        },
        inserted: false,
      },
    ],
  });
  // A postage meter on a pty pair, its registers kept with the cards' state.
  const meterLine = await rig.ptyPair("meter");
  const meterState = join(stateDir, "meter-PM0001.json");
  if (!existsSync(meterState)) {
    const fresh = freshMeterState({ serial: "PM0001" });
    saveMeterState(
      meterState,
      freshMeterState({
        serial: "PM0001",
        registers: { ...fresh.registers, descending: 10_000, controlTotal: 10_000, serial: "PM0001" },
      }),
    );
  }
  rig.spawn("meter", process.execPath, [
    builtEntry("simulators/main.js"),
    "meter",
    "--port",
    meterLine.devicePath,
    "--state",
    meterState,
    "--baud",
    "115200",
  ]);
  const scale = await startKioskScale(rig);
  mkdirSync(defaultRuntimeDir(), { recursive: true });
  rmSync(controlLink, { force: true });
  symlinkSync(rig.controlPath, controlLink);

  let daemon: ReturnType<Rig["spawn"]> | undefined;
  if (opts.daemon) {
    const configPath = join(rig.dir, "termhostd.json");
    writeFileSync(
      configPath,
      JSON.stringify(
        {
          mode: "simulation",
          logLevel: opts.logLevel,
          stateDir: join(stateDir, "daemon"),
          api: { socketPath: apiSocket },
          pcsc: { socketPath: rig.pcscSocket },
          value: { desfire: { currency: "EUR" } },
          postage: {
            meters: [
              {
                profile: KIOSK_METER,
                port: meterLine.hostPath,
                baudRate: 115_200,
                vendorKey: TEST_VENDOR_KEY,
              },
            ],
          },
          scale: { transport: { kind: "socket", paths: [scale.socket] } },
        },
        null,
        2,
      ),
    );
    daemon = rig.spawn(
      "termhostd",
      process.execPath,
      [...DAEMON_NODE_FLAGS, builtEntry("src/daemon/main.js"), "--config", configPath],
      { ...daemonThreadpoolEnv(), ...DAEMON_ENV },
    );
    await waitUntil(
      "termhostd to answer on its socket",
      async () => {
        if (daemon?.child.exitCode !== null) throw new Error(`termhostd exited; see ${daemon?.logPath}`);
        return (await daemonAnswers(apiSocket)) ? true : undefined;
      },
      15_000,
      50,
    );
  }

  const lines = [
    "",
    "termhost simulated kiosk is running",
    `  card stack     private pcscd with ${rig.readerNames.join(", ")} (${rig.mode})`,
    `  cards          purse card (EUR) for ${rig.readerNames[0]}, not inserted; SAM in ${rig.readerNames[1]}`,
    `                 MIFARE DESFire card ${KIOSK_DESFIRE_UID} (EUR) for ${rig.readerNames[2]}, not inserted`,
    `  postage meter  ${KIOSK_METER} (PM0001, 100.00 EUR) on ${meterLine.hostPath}`,
    `  state          ${stateDir}`,
    `  simulator      ${controlLink}`,
    `  postal scale   simulated, empty, on ${scale.socket}; control ${scale.controlLink}`,
    ...(opts.daemon
      ? [`  daemon API     ${apiSocket}`, `  daemon log     ${daemon?.logPath}`]
      : [`  PC/SC socket   PCSCLITE_CSOCK_NAME=${rig.pcscSocket}`]),
    "",
    "Try, in another terminal (from this checkout):",
    "  npx termhost status              # readers and cards as the daemon sees them",
    "  npx termhost-sim insert 0        # insert the purse card in the first reader",
    "  npx termhost status",
    "  npx termhost-sim remove 0        # pull it again",
    "  npx termhost-sim insert 2        # the DESFire card in the second reader",
    `  npx termhost value load 500 --reader '${rig.readerNames[2]}'    # load 5.00 EUR, then buy:`,
    `  npx termhost value debit 120 --reader '${rig.readerNames[2]}'`,
    "  npx termhost readers             # names each card (device profile, smartcard_list.txt)",
    "  npx termhost status --json",
    "  node dist/examples/kiosk.js      # a kiosk app: load the card, print 3 indicia",
    "  npx termhost-sim scale-set 250   # put 250 g on the scale, then weigh it through the API:",
    `  echo '{"jsonrpc":"2.0","id":1,"method":"scale.read","params":{}}' | socat - UNIX-CONNECT:${apiSocket}`,
    "",
    "Ctrl-C stops everything.",
    "",
  ];
  process.stdout.write(lines.join("\n"));

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      process.stdout.write("\nstopping the simulated kiosk…\n");
      void (async () => {
        if (daemon !== undefined) await rig.stopProcess(daemon);
        await rig.stop();
        rmSync(controlLink, { force: true });
        scale.unlink();
        resolve();
      })();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    if (daemon !== undefined) {
      void daemon.exited.then(({ code, signal }) => {
        if (!stopping) {
          process.stderr.write(`termhostd exited unexpectedly (${code ?? signal}); see ${daemon?.logPath}\n`);
          stop();
        }
      });
    }
  });
}
