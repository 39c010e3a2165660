import { SystemMethods } from "./system.js";

/**
 * Every method of the kiosk/POS socket: params and result schemas in one place, one file per
 * domain. The daemon validates params and results against them, the client validates results,
 * and docs/api.md is checked against them.
 */
export const ApiMethods = {
  ...SystemMethods,
} as const;
export type ApiMethodName = keyof typeof ApiMethods;

export * from "./system.js";
