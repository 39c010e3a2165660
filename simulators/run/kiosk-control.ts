import type { Logger } from "pino";
import { z } from "zod";
import { TermhostError } from "../../src/errors/errors.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { RpcServer } from "../../src/jsonrpc/server.js";
import { ControlMethods, SlotStatus } from "../control/methods.js";
import { SlotControlMethods } from "../control/slot-controls.js";
import { IssuerBehaviour } from "../issuer/behaviour.js";
import { MeterControlMethods, MeterStatusResult } from "../meter/control.js";
import type { Rig } from "../rig/rig.js";
import { ScaleControlMethods, ScaleStatusResult } from "../scale/control.js";

/** The parts of a running simulated kiosk its control socket reaches. */
export interface KioskParts {
  rig: Rig;
  /** Meter serial → its simulator's control socket. */
  meters: ReadonlyMap<string, string>;
  /** Control sockets of the scale simulators, by index. */
  scales: readonly string[];
  issuer: { url: string; adminToken: string } | undefined;
  daemonSocket: string | undefined;
}

export const KioskStatus = z.object({
  slots: z.array(SlotStatus),
  meters: z.array(MeterStatusResult),
  scales: z.array(ScaleStatusResult.extend({ scale: z.number().int() })),
  issuer: z.object({ url: z.string(), behaviour: IssuerBehaviour }).nullable(),
  pcscd: z.object({ pid: z.number().int(), socket: z.string() }),
  daemon: z.object({ socket: z.string() }).nullable(),
});

const Empty = z.object({}).strict();

/** Methods of the kiosk's own; the card, reader, meter and scale ones are those of each simulator. */
export const KioskOwnMethods = {
  "sim.status": {
    description: "every simulator of the kiosk: slots, meters, scales, issuer, pcscd, daemon",
    params: Empty,
    result: KioskStatus,
  },
  "pcscd.restart": {
    description:
      "kill pcscd (SIGKILL unless `signal` says otherwise) and start a fresh one; cards that were in plugged readers are inserted again",
    params: z.object({ signal: z.enum(["SIGKILL", "SIGTERM"]).default("SIGKILL") }).strict(),
    result: z.object({ pid: z.number().int(), reinserted: z.array(z.number().int()) }),
  },
  "issuer.behave": {
    description:
      "set how the issuer host misbehaves: decline (all or above an amount), stall, delayMs, fail, drop, on, when, times; {} is normal",
    params: IssuerBehaviour,
    result: IssuerBehaviour,
  },
  "issuer.release": {
    description: "let every answer held by a stall go",
    params: Empty,
    result: z.object({ released: z.number().int() }),
  },
  "issuer.status": {
    description: "the issuer host's URL and behaviour",
    params: Empty,
    result: z.object({ url: z.string(), behaviour: IssuerBehaviour }),
  },
} as const;

async function callOnce(path: string, method: string, params: object): Promise<unknown> {
  const client = await RpcClient.connect(path);
  try {
    return await client.call(method, params);
  } finally {
    client.close();
  }
}

function pick<T>(kind: string, key: string | number | undefined, all: ReadonlyMap<string | number, T>): T {
  if (key === undefined && all.size === 1) return [...all.values()][0] as T;
  const found = key === undefined ? undefined : all.get(key);
  if (found === undefined) {
    throw new TermhostError(
      "INVALID_PARAMS",
      all.size === 0
        ? `this kiosk has no ${kind}`
        : `name the ${kind}: one of ${[...all.keys()].join(", ")}${key === undefined ? "" : ` (not ${key})`}`,
      { context: { [kind]: key ?? null } },
    );
  }
  return found;
}

async function issuerHttp(
  issuer: KioskParts["issuer"],
  method: "GET" | "PUT" | "POST",
  path: string,
  body?: unknown,
): Promise<unknown> {
  if (issuer === undefined) throw new TermhostError("INVALID_PARAMS", "this kiosk has no issuer host");
  const res = await fetch(`${issuer.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${issuer.adminToken}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as unknown;
  if (!res.ok)
    throw new TermhostError("INTERNAL", `issuer host answered ${res.status}`, { context: { json } });
  return json;
}

/**
 * One control socket for the whole simulated kiosk, so a test in any language needs one path: card
 * and reader methods go to the card simulator, `meter.*` to the named meter's simulator (`meter`:
 * its serial, optional when there is one), `scale.*` to the scale (`scale`: its index), `issuer.*`
 * to the issuer host's admin endpoint, and `pcscd.restart` is the kiosk's own.
 */
export function kioskControlServer(parts: KioskParts, log: Logger): RpcServer {
  const rpc = new RpcServer({
    log,
    maxLineBytes: 1 << 20,
    maxConnections: 32,
    maxInFlightPerConnection: 16,
    maxBufferedBytes: 8 << 20,
  });
  const { rig } = parts;
  const meters = new Map<string, string>(parts.meters);
  const scales = new Map<number, string>(parts.scales.map((p, i) => [i, p]));

  const cardMethods: Record<string, { description: string; params: z.ZodType; result: z.ZodType }> = {
    ...ControlMethods,
    ...SlotControlMethods,
  };
  for (const [name, spec] of Object.entries(cardMethods)) {
    if (name === "sim.status") continue;
    rpc.register(name, spec, (params) => rig.control.call(name, params) as never);
  }
  for (const [name, spec] of Object.entries(MeterControlMethods)) {
    const params = spec.params.extend({ meter: z.string().optional() }).strict();
    rpc.register(
      name,
      { ...spec, params },
      ({ meter, ...rest }) => callOnce(pick("meter", meter, meters), name, rest) as never,
    );
  }
  for (const [name, spec] of Object.entries(ScaleControlMethods)) {
    const params = spec.params.extend({ scale: z.number().int().min(0).optional() }).strict();
    rpc.register(
      name,
      { ...spec, params },
      ({ scale, ...rest }) => callOnce(pick("scale", scale, scales), name, rest) as never,
    );
  }

  const K = KioskOwnMethods;
  rpc.register("sim.status", K["sim.status"], async () => {
    const { slots } = await rig.simStatus();
    const meterStatus = await Promise.all(
      [...meters.values()].map(
        (p) => callOnce(p, "meter.status", {}) as Promise<z.infer<typeof MeterStatusResult>>,
      ),
    );
    const scaleStatus = await Promise.all(
      [...scales].map(async ([i, p]) => ({
        scale: i,
        ...((await callOnce(p, "scale.status", {})) as z.infer<typeof ScaleStatusResult>),
      })),
    );
    const issuer =
      parts.issuer === undefined
        ? null
        : {
            url: parts.issuer.url,
            behaviour: IssuerBehaviour.parse(await issuerHttp(parts.issuer, "GET", "/admin/behaviour")),
          };
    return {
      slots,
      meters: meterStatus,
      scales: scaleStatus,
      issuer,
      pcscd: { pid: rig.pcscd.pid, socket: rig.pcscSocket },
      daemon: parts.daemonSocket === undefined ? null : { socket: parts.daemonSocket },
    };
  });
  rpc.register("pcscd.restart", K["pcscd.restart"], async ({ signal }) => {
    const before = (await rig.simStatus()).slots.filter((s) => s.inserted && s.plugged).map((s) => s.slot);
    await rig.restartPcscd(signal);
    for (const slot of before) {
      // The old vpcd closed every card connection with it; the new one takes them again.
      if (!(await rig.simStatus()).slots[slot]?.inserted) await rig.insert(slot);
    }
    log.info({ pid: rig.pcscd.pid, reinserted: before }, "pcscd restarted");
    return { pid: rig.pcscd.pid, reinserted: before };
  });
  rpc.register("issuer.behave", K["issuer.behave"], async (b) =>
    IssuerBehaviour.parse(await issuerHttp(parts.issuer, "PUT", "/admin/behaviour", b)),
  );
  rpc.register("issuer.release", K["issuer.release"], async () =>
    z.object({ released: z.number().int() }).parse(await issuerHttp(parts.issuer, "POST", "/admin/release")),
  );
  rpc.register("issuer.status", K["issuer.status"], async () => ({
    url: parts.issuer?.url ?? "",
    behaviour: IssuerBehaviour.parse(await issuerHttp(parts.issuer, "GET", "/admin/behaviour")),
  }));
  return rpc;
}
