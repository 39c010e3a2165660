import type { Logger } from "pino";
import { z } from "zod";
import { RpcServer } from "../../src/jsonrpc/server.js";
import { Registers } from "../../src/postage/protocol/index.js";
import type { MeterSimulator } from "./meter-simulator.js";

export const MeterStatusResult = z.object({
  serial: z.string(),
  powered: z.boolean(),
  cableCut: z.boolean(),
  registers: Registers,
  inspectionDue: z.string(),
  /** Requests the meter received since it started, and how many were retransmissions. */
  requests: z.number().int(),
  duplicates: z.number().int(),
  /** Frames the meter dropped (bad CRC, timeouts…). */
  frameDrops: z.number().int(),
});

const Empty = z.object({}).strict();

/** The control socket of `termhost-sim meter --control`: the faults a test can cause on the line. */
export const MeterControlMethods = {
  "meter.status": {
    description: "registers, power, whether the cable is cut, requests received",
    params: Empty,
    result: MeterStatusResult,
  },
  "meter.cut": {
    description:
      "cut the serial cable after `afterBytes` more bytes cross it (0: now); later bytes are lost both ways",
    params: z.object({ afterBytes: z.number().int().min(0).max(1_000_000).default(0) }).strict(),
    result: MeterStatusResult,
  },
  "meter.restore": {
    description: "reconnect the cable",
    params: Empty,
    result: MeterStatusResult,
  },
  "meter.corrupt": {
    description: "flip every bit of the next `bytes` bytes going `direction` (fromMeter by default)",
    params: z
      .object({
        bytes: z.number().int().min(1).max(1_000_000),
        direction: z.enum(["fromMeter", "toMeter"]).default("fromMeter"),
      })
      .strict(),
    result: MeterStatusResult,
  },
  "meter.delay": {
    description: "answer every request `ms` after its ACK (0 clears it)",
    params: z.object({ ms: z.number().int().min(0).max(600_000) }).strict(),
    result: MeterStatusResult,
  },
  "meter.tear-refill": {
    description: "the next refill loses power once its pending credit is on disk",
    params: Empty,
    result: MeterStatusResult,
  },
  "meter.power-cycle": {
    description: "lose RAM (duplicate cache, partial frames) and power up from the state file",
    params: Empty,
    result: MeterStatusResult,
  },
} as const;

export function meterControlServer(sim: MeterSimulator, log: Logger): RpcServer {
  const rpc = new RpcServer({
    log,
    maxLineBytes: 64 << 10,
    maxConnections: 16,
    maxInFlightPerConnection: 8,
    maxBufferedBytes: 1 << 20,
  });
  const status = (): z.infer<typeof MeterStatusResult> => {
    const s = sim.state();
    return {
      serial: s.serial,
      powered: sim.isPowered,
      cableCut: sim.cableCut,
      registers: sim.registers(),
      inspectionDue: s.inspectionDue,
      requests: sim.received.length,
      duplicates: sim.received.filter((r) => r.duplicate).length,
      frameDrops: sim.frameDrops.length,
    };
  };
  const M = MeterControlMethods;
  rpc.register("meter.status", M["meter.status"], status);
  rpc.register("meter.cut", M["meter.cut"], ({ afterBytes }) => {
    sim.cutCableAt(afterBytes);
    log.info({ afterBytes }, "cable cut armed");
    return status();
  });
  rpc.register("meter.restore", M["meter.restore"], () => {
    sim.restoreCable();
    log.info("cable restored");
    return status();
  });
  rpc.register("meter.corrupt", M["meter.corrupt"], ({ bytes, direction }) => {
    sim.corruptNext(bytes, direction);
    log.info({ bytes, direction }, "corruption armed");
    return status();
  });
  rpc.register("meter.delay", M["meter.delay"], ({ ms }) => {
    sim.setResponseDelay(ms);
    return status();
  });
  rpc.register("meter.tear-refill", M["meter.tear-refill"], () => {
    sim.tearNextRefill();
    return status();
  });
  rpc.register("meter.power-cycle", M["meter.power-cycle"], () => {
    sim.powerCycle();
    log.info("power cycled");
    return status();
  });
  return rpc;
}
