import type { z } from "zod";
import { isTermhostError, TermhostError } from "../../errors/errors.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import { type RateTable, ratePostage } from "../../postage/rating.js";
import type { LiveWeight, SaleWeight } from "../../scale/scale-service.js";
import type { ScaleRuntime } from "../../scale/start.js";
import type { DeviceInfo } from "../../scale/transport.js";
import { decimalText, milligramsRoundedUp, type Weight } from "../../scale/weight.js";
import type { EventHub } from "../events.js";
import { type ApiLiveWeight, ScaleMethods } from "../schemas/scale.js";

export interface RateTables {
  tables: readonly RateTable[];
  /** Used when `postage.rate` names no table and more than one is loaded. */
  defaultTable: string | undefined;
}

export interface ScaleServices {
  events: EventHub;
  /** Undefined when the configuration names no scale transport. */
  scale: ScaleRuntime | undefined;
  rates: RateTables;
}

type ScaleDevice = DeviceInfo & { profile: string };

function notConfigured(): TermhostError {
  return new TermhostError("SCALE_OFFLINE", "no scale is configured on this terminal", {
    hint: 'set scale.transport in termhostd\'s configuration ({"kind":"hid"} for a USB scale); see docs/config.md',
    context: { configured: false },
  });
}

function runtime(services: ScaleServices): ScaleRuntime {
  if (services.scale === undefined) throw notConfigured();
  return services.scale;
}

function liveView(live: LiveWeight): z.infer<typeof ApiLiveWeight> {
  return { status: live.status, ...live.weight, text: live.text, trusted: live.trusted };
}

/** Grams as exact decimal text, rounded up to the milligram; undefined for units without one mass. */
function gramsText(weight: Weight): string | undefined {
  try {
    return decimalText(Number(milligramsRoundedUp(weight)), -3);
  } catch (e) {
    if (isTermhostError(e, "WEIGHT_UNIT_UNSUPPORTED")) return undefined;
    throw e;
  }
}

function saleView(sale: SaleWeight): z.infer<(typeof ScaleMethods)["scale.read"]["result"]> {
  const grams = gramsText(sale.weight);
  return { status: sale.status, ...sale.weight, text: sale.text, ...(grams === undefined ? {} : { grams }) };
}

function chooseTable(rates: RateTables, name: string | undefined): RateTable {
  const known = rates.tables.map((t) => t.name);
  const wanted =
    name ?? rates.defaultTable ?? (rates.tables.length === 1 ? rates.tables[0]?.name : undefined);
  if (wanted === undefined) {
    throw new TermhostError("INVALID_PARAMS", "name the rate table: more than one is loaded", {
      hint: "pass `table`, or set scale.rates.defaultTable in the configuration",
      context: { tables: known },
    });
  }
  const table = rates.tables.find((t) => t.name === wanted);
  if (table === undefined) {
    throw new TermhostError("RATE_TABLE_UNKNOWN", `no rate table named "${wanted}"`, {
      hint: "postage.rate.tables lists the loaded tables",
      context: { table: wanted, tables: known },
    });
  }
  return table;
}

/**
 * Scale and rating methods. Weighing, rating and printing a piece is three calls: `scale.read`,
 * `postage.rate` with the weight it returned, `postage.batch.start` with the amount. The scale
 * methods are registered even without a scale, so that a kiosk is told SCALE_OFFLINE and why,
 * not METHOD_NOT_FOUND.
 */
export function registerScaleMethods(server: RpcServer, services: ScaleServices): void {
  const M = ScaleMethods;
  server.register("scale.read", M["scale.read"], async ({ timeoutMs }) =>
    saleView(await runtime(services).service.read({ timeoutMs })),
  );
  server.register("scale.watch", M["scale.watch"], (_p, conn) => {
    const snapshot = runtime(services).service.snapshot();
    const topics = services.events.subscribe(conn, ["scale"]);
    return { online: snapshot.online, live: snapshot.live === null ? null : liveView(snapshot.live), topics };
  });
  server.register("scale.status", M["scale.status"], () => {
    const scale = services.scale;
    if (scale === undefined) {
      return {
        configured: false,
        transport: "none" as const,
        online: false,
        device: null,
        live: null,
        invalidReports: 0,
        invalidFrames: 0,
        lastFrameError: null,
      };
    }
    const snapshot = scale.service.snapshot();
    return {
      configured: true,
      transport: scale.transport,
      online: snapshot.online,
      device: snapshot.device,
      live: snapshot.live === null ? null : liveView(snapshot.live),
      invalidReports: snapshot.invalidReports,
      ...scale.linkStats(),
    };
  });
  server.register("scale.zero", M["scale.zero"], async () => {
    await runtime(services).service.zero();
    return { ok: true as const };
  });
  server.register("scale.tare", M["scale.tare"], async () => {
    await runtime(services).service.tare();
    return { ok: true as const };
  });
  server.register("postage.rate", M["postage.rate"], ({ weight, mailClass, table }) => {
    const postage = ratePostage(
      chooseTable(services.rates, table),
      { value: weight.value, exponent: weight.exponent, unit: weight.unit },
      mailClass,
    );
    return { ...postage, upToText: decimalText(postage.upTo.value, postage.upTo.exponent) };
  });
  server.register("postage.rate.tables", M["postage.rate.tables"], () => ({
    defaultTable: services.rates.defaultTable ?? null,
    tables: services.rates.tables.map((t) => ({
      name: t.name,
      currency: t.currency,
      weightUnit: t.weightUnit,
      classes: [...t.classes].map(([name, bands]) => ({
        name,
        bands: bands.map((b) => ({ upTo: decimalText(b.upTo.value, b.upTo.exponent), amount: b.amount })),
      })),
    })),
  }));
}

/** The scale's live readings and plug events on the `scale` topic; returns the unsubscribe. */
export function publishScaleEvents(scale: ScaleRuntime | undefined, hub: EventHub): () => void {
  if (scale === undefined) return () => undefined;
  const { service } = scale;
  const onWeight = (live: LiveWeight): void => hub.publish("scale", { kind: "weight", ...liveView(live) });
  const connected = (device: ScaleDevice): void => hub.publish("scale", { kind: "connected", device });
  const disconnected = (device: ScaleDevice): void => hub.publish("scale", { kind: "disconnected", device });
  service.on("weight", onWeight);
  service.on("connected", connected);
  service.on("disconnected", disconnected);
  return () => {
    service.off("weight", onWeight);
    service.off("connected", connected);
    service.off("disconnected", disconnected);
  };
}
