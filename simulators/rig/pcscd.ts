import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { waitUntil } from "../../src/util/wait.js";
import type { ProcessGroup, TrackedProcess } from "./processes.js";

export interface PcscdOptions {
  dir: string;
  /** One vpcd reader entry per port; each gives two slots, on `port` and `port + 1`. */
  vpcdPorts: number[];
  netns: string | undefined;
}

export interface Pcscd {
  process: TrackedProcess;
  /** The socket path to give the PC/SC client library (PCSCLITE_CSOCK_NAME). */
  socketPath: string;
  readerNames: string[];
}

const VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/**
 * pcscd names a slot "FRIENDLYNAME 00 SS"; entries with one friendly name would collide, so the
 * second and later entries are "Virtual PCD 2", "Virtual PCD 3", …
 */
function friendlyName(entry: number): string {
  return entry === 0 ? "Virtual PCD" : `Virtual PCD ${entry + 1}`;
}

export function vpcdReaderNames(entries: number): string[] {
  const names: string[] = [];
  for (let e = 0; e < entries; e++) {
    for (let s = 0; s < 2; s++) names.push(`${friendlyName(e)} 00 ${pad(s)}`);
  }
  return names;
}

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}

/**
 * An isolated pcscd: its own reader.conf.d, and its own /run/pcscd by a private bind mount, since
 * pcscd always uses that path and refuses to start when another daemon owns it.
 */
export async function startPcscd(group: ProcessGroup, opts: PcscdOptions): Promise<Pcscd> {
  const confDir = join(opts.dir, "reader.conf.d");
  const runDir = join(opts.dir, "run");
  mkdirSync(confDir, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  mkdirSync("/run/pcscd", { recursive: true });
  opts.vpcdPorts.forEach((port, i) => {
    // The driver keeps its slots in globals: a second entry loading the same file would share
    // (and break) the first one's, so every entry after the first loads its own copy.
    const driver = i === 0 ? VPCD_DRIVER : join(opts.dir, `libifdvpcd-${i}.so`);
    if (i > 0) copyFileSync(VPCD_DRIVER, driver);
    writeFileSync(
      join(confDir, `vpcd-${i}`),
      `FRIENDLYNAME "${friendlyName(i)}"\nDEVICENAME /dev/null:${port}\nLIBPATH ${driver}\nCHANNELID ${port}\n`,
    );
  });
  const script = 'mount --bind "$1" /run/pcscd && exec pcscd --foreground --config "$2"';
  const inner = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", runDir, confDir];
  const [cmd, ...args] = opts.netns === undefined ? inner : ["ip", "netns", "exec", opts.netns, ...inner];
  const proc = group.start("pcscd", cmd as string, args, { logPath: join(opts.dir, "pcscd.log") });
  const socketPath = join(runDir, "pcscd.comm");
  await waitUntil(
    "pcscd to accept connections",
    async () => {
      if (proc.child.exitCode !== null) {
        throw new Error(`pcscd exited with ${proc.child.exitCode}; see ${proc.logPath}`);
      }
      return (await canConnect(socketPath)) ? true : undefined;
    },
    10_000,
  );
  return { process: proc, socketPath, readerNames: vpcdReaderNames(opts.vpcdPorts.length) };
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
