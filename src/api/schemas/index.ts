import { AdminMethods } from "./admin.js";
import { EventsMethods, Notifications } from "./events.js";
import { PostageMethods } from "./postage.js";
import { ScaleMethods } from "./scale.js";
import { SystemMethods } from "./system.js";
import { ValueMethods } from "./value.js";

/**
 * Every method of the kiosk/POS socket: params and result schemas in one place, one file per
 * domain. The daemon validates params and results against them, the client validates results,
 * and docs/api.md and docs/api.schema.json are generated from them. The admin socket serves these
 * and `AdminMethods` too.
 */
export const ApiMethods = {
  ...SystemMethods,
  ...EventsMethods,
  ...ValueMethods,
  ...PostageMethods,
  ...ScaleMethods,
} as const;
export type ApiMethodName = keyof typeof ApiMethods;

/**
 * Every notification the daemon sends (JSON-RPC requests without id), for the generated docs and the
 * API's JSON Schema; a domain that sends its own (e.g. progress of a long call) adds its table here.
 */
export const ApiNotifications = {
  ...Notifications,
} as const;

/** Everything the technician's socket serves. */
export const AdminSocketMethods = {
  ...ApiMethods,
  ...AdminMethods,
} as const;
export type AdminSocketMethodName = keyof typeof AdminSocketMethods;

export * from "./admin.js";
export * from "./events.js";
export * from "./fleet.js";
export * from "./postage.js";
export * from "./restore.js";
export * from "./scale.js";
export * from "./system.js";
export * from "./value.js";
