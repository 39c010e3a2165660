import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { builtEntry } from "../../src/util/paths.js";
import { waitUntil } from "../../src/util/wait.js";
import type { Rig } from "../rig/rig.js";
import { defaultScaleControl } from "./control.js";

export interface KioskScale {
  /** The scale socket termhostd connects to (`scale.transport.paths`). */
  socket: string;
  /** The default control path `termhost-sim scale-*` uses, linked to this scale's control socket. */
  controlLink: string;
  /** Removes the control link; the process itself ends with the rig. */
  unlink(): void;
}

/** `make run`'s postal scale: the scale simulator as a process of the rig, empty at start. */
export async function startKioskScale(rig: Rig): Promise<KioskScale> {
  const socket = join(rig.dir, "scale.sock");
  const control = join(rig.dir, "scale-control.sock");
  const proc = rig.spawn("scale", process.execPath, [
    builtEntry("simulators/main.js"),
    "scale",
    "--socket",
    socket,
    "--control",
    control,
  ]);
  const client = await waitUntil(
    "the scale simulator's control socket",
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`the scale simulator exited; see ${proc.logPath}`);
      return RpcClient.connect(control).catch(() => undefined);
    },
    15_000,
    50,
  );
  client.close();
  const controlLink = defaultScaleControl();
  mkdirSync(dirname(controlLink), { recursive: true });
  rmSync(controlLink, { force: true });
  symlinkSync(control, controlLink);
  return { socket, controlLink, unlink: () => rmSync(controlLink, { force: true }) };
}
