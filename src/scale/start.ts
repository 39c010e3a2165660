import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { NodeHidEnumerator } from "./node-hid-transport.js";
import { loadScaleProfiles } from "./profiles/load.js";
import { ScaleService } from "./scale-service.js";
import { type SocketLinkStats, SocketScaleEnumerator } from "./socket-transport.js";
import type { ScaleEnumerator } from "./transport.js";

export type ScaleTransportChoice =
  | { kind: "hid" }
  | { kind: "socket"; paths: readonly string[]; helloTimeoutMs?: number }
  | { kind: "none" };

export interface ScaleStartOptions {
  transport: ScaleTransportChoice;
  /** Scale profiles; a bad file stops start-up. */
  profilesDir: string;
  /** A missing `profilesDir` means no profiles (the default folder), rather than a start-up error. */
  profilesDirOptional?: boolean;
  reportTimeoutMs: number;
  reconnect: { initialMs: number; maxMs: number };
}

/** The daemon's scale: the service and what the API reports about its link. */
export interface ScaleRuntime {
  transport: "hid" | "socket";
  service: ScaleService;
  linkStats(): SocketLinkStats;
  stop(): Promise<void>;
}

/** Loads the scale profiles and starts the service on the chosen transport; undefined for `none`. */
export async function startScale(options: ScaleStartOptions, log: Logger): Promise<ScaleRuntime | undefined> {
  const { transport } = options;
  if (transport.kind === "none") return undefined;
  const profiles =
    options.profilesDirOptional === true && !existsSync(options.profilesDir)
      ? []
      : await loadScaleProfiles(options.profilesDir);
  const scaleLog = log.child({ part: "scale" });
  let enumerator: ScaleEnumerator;
  let linkStats = (): SocketLinkStats => ({ invalidFrames: 0, lastFrameError: null });
  if (transport.kind === "socket") {
    const socket = new SocketScaleEnumerator({
      paths: transport.paths,
      ...(transport.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: transport.helloTimeoutMs }),
      onFrameError: (err, path) => scaleLog.warn({ err, path }, "scale frame invalid; connection dropped"),
    });
    enumerator = socket;
    linkStats = () => socket.stats();
  } else enumerator = new NodeHidEnumerator();
  const service = new ScaleService({
    enumerator,
    profiles,
    logger: scaleLog,
    reportTimeoutMs: options.reportTimeoutMs,
    reconnect: options.reconnect,
  });
  service.start();
  scaleLog.info({ transport: transport.kind, profiles: profiles.length }, "scale service started");
  return { transport: transport.kind, service, linkStats, stop: () => service.stop() };
}
