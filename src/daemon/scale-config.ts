import { z } from "zod";

/**
 * The scale and the rate tables. `transport` says where the scale is: a USB HID scale through
 * node-hid, a scale process on Unix sockets (the simulator, on machines without uhid), or none.
 */
export const ScaleConfig = z
  .object({
    transport: z
      .discriminatedUnion("kind", [
        z.object({ kind: z.literal("hid") }).strict(),
        z
          .object({
            kind: z.literal("socket"),
            /** One Unix socket path per scale port; the first that introduces a profiled scale is used. */
            paths: z.array(z.string().min(1).max(100)).min(1).max(8),
            helloTimeoutMs: z.number().int().min(50).max(30_000).default(1_000),
          })
          .strict(),
        z.object({ kind: z.literal("none") }).strict(),
      ])
      .prefault({ kind: "hid" }),
    /** Scale profiles; default `<profiles.dir>/scales`. */
    profilesDir: z.string().min(1).optional(),
    /** How long one transport read waits for a report before trying again. */
    reportTimeoutMs: z.number().int().min(50).max(60_000).default(1_000),
    /** Listing while no scale is connected: first retry delay, doubled up to `reconnectMaxMs`. */
    reconnectInitialMs: z.number().int().min(10).max(60_000).default(500),
    reconnectMaxMs: z.number().int().min(10).max(600_000).default(10_000),
    rates: z
      .object({
        /** Rate tables; default `<profiles.dir>/rates`. */
        dir: z.string().min(1).optional(),
        /** The table `postage.rate` uses when the call names none and several are loaded. */
        defaultTable: z.string().min(1).max(80).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type ScaleConfig = z.infer<typeof ScaleConfig>;
