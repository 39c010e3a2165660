import { join } from "node:path";
import { z } from "zod";
import { projectRoot } from "../util/paths.js";

const Port = z.number().int().min(1024).max(65_535);
/** An origin as browsers send it: scheme, host and port, no path. */
const Origin = z
  .string()
  .regex(/^http:\/\/(?:127\.0\.0\.1|localhost|\[::1\]):[0-9]{4,5}$/, "expected e.g. http://127.0.0.1:8091");

/**
 * The kiosk gateway: the kiosk API of api.sock for a page in a local browser, over loopback HTTP +
 * WebSocket. Off unless enabled; docs/web.md has the threat model and every check.
 */
export const GatewayConfig = z
  .object({
    enabled: z.boolean().default(false),
    port: Port.default(8091),
    /** The page's origin; the default is http://127.0.0.1:<port>. */
    origin: Origin.optional(),
    /** The page (index.html, styles) the gateway serves at `/`. */
    uiDir: z
      .string()
      .min(1)
      .default(join(projectRoot(), "examples", "web-kiosk")),
    /** Largest WebSocket frame (one request); a bigger one closes the connection. */
    maxFrameBytes: z
      .number()
      .int()
      .min(1024)
      .max(1 << 20)
      .default(64 << 10),
    maxConnections: z.number().int().min(1).max(256).default(16),
    /** How long a ticket from POST /ticket opens a WebSocket. */
    ticketTtlMs: z.number().int().min(1000).max(60_000).default(10_000),
  })
  .strict();

/** The technician console and the metrics, on a loopback listener of the admin role. */
export const ConsoleConfig = z
  .object({
    enabled: z.boolean().default(false),
    port: Port.default(8092),
    origin: Origin.optional(),
    maxConnections: z.number().int().min(1).max(64).default(4),
    /** How long `termhost console`'s login ticket is good for. */
    ticketTtlMs: z.number().int().min(5000).max(600_000).default(60_000),
    /** A console session (cookie) ends this long after login. */
    sessionTtlMs: z
      .number()
      .int()
      .min(60_000)
      .max(24 * 3_600_000)
      .default(8 * 3_600_000),
    /** Bearer token for GET /metrics, written at start-up; default metrics.token beside admin.sock. */
    metricsTokenFile: z.string().min(1).optional(),
  })
  .strict();
export type GatewayConfig = z.infer<typeof GatewayConfig>;
export type ConsoleConfig = z.infer<typeof ConsoleConfig>;

export function originOf(c: { port: number; origin?: string | undefined }): string {
  return c.origin ?? `http://127.0.0.1:${c.port}`;
}
