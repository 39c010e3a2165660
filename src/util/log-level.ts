import { z } from "zod";

/** Kept apart from the logger so that the API's schemas, which name it, load in a browser too. */
export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof LogLevel>;
