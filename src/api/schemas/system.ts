import { z } from "zod";

export const ReaderViewSchema = z.object({
  name: z.string(),
  card: z.enum(["absent", "present", "mute", "unavailable"]),
  atr: z.string().nullable(),
  inUse: z.boolean(),
  since: z.string(),
  /** Names of the matching device profiles; null when none matches. */
  readerProfile: z.string().nullable(),
  cardProfile: z.string().nullable(),
});

export const SystemStatusResult = z.object({
  version: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  uptimeMs: z.number().int().nonnegative(),
  pcsc: z.object({
    state: z.enum(["connecting", "up", "down"]),
    error: z.string().optional(),
  }),
  readers: z.array(ReaderViewSchema),
});
export type SystemStatusResult = z.infer<typeof SystemStatusResult>;

export const SystemMethods = {
  "system.status": {
    description: "daemon version, uptime, PC/SC service state, and every reader with its card state",
    params: z.object({}).strict(),
    result: SystemStatusResult,
  },
} as const;
