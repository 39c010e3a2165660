import { join } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { defaultRuntimeDir } from "../../src/api/paths.js";
import { TermhostError } from "../../src/errors/errors.js";
import { RpcServer } from "../../src/jsonrpc/server.js";
import { SCALE_STATUSES } from "../../src/scale/report.js";
import type { ScaleSocketServer } from "./socket-server.js";

/** The control socket `termhost-sim scale-*` and `make run` use when none is given. */
export function defaultScaleControl(): string {
  return process.env.TERMHOST_SIM_SCALE_CONTROL ?? join(defaultRuntimeDir(), "sim-scale.sock");
}

const Hex = z
  .string()
  .regex(/^([0-9a-fA-F]{2})*$/, "expected hex bytes")
  .max(2 * 1024);

export const ScaleStatusResult = z.object({
  plugged: z.boolean(),
  /** Hosts connected to the scale socket now. */
  connections: z.number().int(),
  /** The report the scale would send now, hex. */
  report: z.string(),
  /** Output reports (zero, tare) the hosts wrote, hex, oldest first. */
  received: z.array(z.string()),
});

/** The scale simulator's own control socket: what a test or a person at `make run` does to the scale. */
export const ScaleControlMethods = {
  "scale.status": {
    description: "plugged, connections, the current report",
    params: z.object({}).strict(),
    result: ScaleStatusResult,
  },
  "scale.set": {
    description: "put a load of `grams` on the scale; it reads in motion for `settleMs`, then stable",
    params: z
      .object({
        grams: z.number().min(-100_000).max(1_000_000),
        settleMs: z.number().int().min(0).max(60_000).default(0),
      })
      .strict(),
    result: ScaleStatusResult,
  },
  "scale.wobble": {
    description: "a rocking piece: in motion until switched off",
    params: z.object({ on: z.boolean() }).strict(),
    result: ScaleStatusResult,
  },
  "scale.condition": {
    description: "force a status the load cannot produce (fault, needs_calibration…); null returns to normal",
    params: z.object({ status: z.enum(SCALE_STATUSES).nullable() }).strict(),
    result: ScaleStatusResult,
  },
  "scale.inject": {
    description: "deliver these bytes as the next input report (malformed reports for tests)",
    params: z.object({ hex: Hex.refine((h) => h.length >= 2 && h.length <= 128, "1 to 64 bytes") }).strict(),
    result: ScaleStatusResult,
  },
  "scale.frame": {
    description: "write raw bytes on every host connection, outside the framing (malformed frames for tests)",
    params: z.object({ hex: Hex.refine((h) => h.length >= 2, "at least one byte") }).strict(),
    result: ScaleStatusResult,
  },
  "scale.unplug": {
    description: "pull the cable: connections close, the socket stops listening",
    params: z.object({}).strict(),
    result: ScaleStatusResult,
  },
  "scale.replug": {
    description: "plug it back in: the socket listens again",
    params: z.object({}).strict(),
    result: ScaleStatusResult,
  },
} as const;

export function scaleControlServer(server: ScaleSocketServer, log: Logger): RpcServer {
  const rpc = new RpcServer({
    log,
    maxLineBytes: 64 << 10,
    maxConnections: 16,
    maxInFlightPerConnection: 8,
    maxBufferedBytes: 1 << 20,
  });
  const sim = server.sim;
  const status = (): z.infer<typeof ScaleStatusResult> => ({
    plugged: sim.plugged,
    connections: server.connections,
    report: sim.currentReport().toString("hex"),
    received: sim.received.map((r) => r.toString("hex")),
  });
  const M = ScaleControlMethods;
  rpc.register("scale.status", M["scale.status"], status);
  rpc.register("scale.set", M["scale.set"], ({ grams, settleMs }) => {
    sim.setWeight(grams, { settleMs });
    log.info({ grams, settleMs }, "load set");
    return status();
  });
  rpc.register("scale.wobble", M["scale.wobble"], ({ on }) => {
    sim.wobble(on);
    return status();
  });
  rpc.register("scale.condition", M["scale.condition"], ({ status: s }) => {
    sim.setCondition(s);
    return status();
  });
  rpc.register("scale.inject", M["scale.inject"], ({ hex }) => {
    sim.inject(Buffer.from(hex, "hex"));
    return status();
  });
  rpc.register("scale.frame", M["scale.frame"], ({ hex }) => {
    if (server.sendRaw(Buffer.from(hex, "hex")) === 0) {
      throw new TermhostError("SCALE_OFFLINE", "no host is connected to the scale");
    }
    return status();
  });
  rpc.register("scale.unplug", M["scale.unplug"], async () => {
    await server.unplug();
    log.info("unplugged");
    return status();
  });
  rpc.register("scale.replug", M["scale.replug"], async () => {
    await server.replug();
    log.info("replugged");
    return status();
  });
  return rpc;
}
