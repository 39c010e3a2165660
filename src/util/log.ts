import { type DestinationStream, type Logger, pino } from "pino";
import { z } from "zod";
import { REDACTED, secretLogPaths } from "./secrets.js";

export const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
export type LogLevel = z.infer<typeof LogLevel>;

/**
 * JSON lines on stderr (or `destination`): stdout stays free for what a program prints for its user.
 * Secret fields (secrets.ts) are redacted by name, so a key logged by mistake never reaches a log.
 */
export function createLogger(
  name: string,
  level: LogLevel,
  destination: DestinationStream = pino.destination({ fd: 2, sync: false }),
): Logger {
  return pino(
    { name, level, base: { pid: process.pid }, redact: { paths: secretLogPaths(), censor: REDACTED } },
    destination,
  );
}
