import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { defaultRuntimeDir } from "../api/paths.js";
import { TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import { FleetConfig } from "../fleet/config.js";
import { PostageConfig } from "../postage/config.js";
import { LogLevel } from "../util/log.js";
import { projectRoot } from "../util/paths.js";
import { ScaleConfig } from "./scale-config.js";
import { defaultStateDir } from "./state-dir.js";
import { ValueConfig } from "./value-config.js";
import { ConsoleConfig, GatewayConfig } from "./web-config.js";

const FileMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'expected an octal file mode such as "0660"')
  .transform((s) => Number.parseInt(s, 8));

const SocketGroup = z.union([
  z
    .string()
    .min(1)
    .max(32)
    .regex(/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/, "expected a group name such as termhost"),
  z.number().int().min(0).max(0xfffffffe),
]);

export const ApiConfig = z
  .object({
    /** The kiosk/POS socket. */
    socketPath: z.string().min(1).max(100).default(`${defaultRuntimeDir()}/api.sock`),
    socketMode: FileMode.default(0o660),
    maxLineBytes: z
      .number()
      .int()
      .min(1024)
      .max(16 << 20)
      .default(256 << 10),
    maxConnections: z.number().int().min(1).max(4096).default(64),
    maxInFlightPerConnection: z.number().int().min(1).max(1024).default(32),
    maxBufferedBytes: z
      .number()
      .int()
      .min(64 << 10)
      .max(256 << 20)
      .default(4 << 20),
    /** Group the socket file is given (name or gid); absent keeps the daemon's own group. */
    group: SocketGroup.optional(),
    /** Token bucket per connection: steady requests per second and the burst allowed above it. */
    requestsPerSecond: z.number().int().min(1).max(1_000_000).default(200),
    requestBurst: z.number().int().min(1).max(1_000_000).default(400),
    /** Unread events a subscriber may fall behind by before it is dropped with `events.dropped`. */
    eventQueueMaxEvents: z.number().int().min(16).max(1_000_000).default(1000),
    eventQueueMaxBytes: z
      .number()
      .int()
      .min(16 << 10)
      .max(64 << 20)
      .default(1 << 20),
  })
  .strict();

/** The technician's socket; its line, in-flight, buffer and rate limits are those of `api`. */
export const AdminConfig = z
  .object({
    /** Default: admin.sock next to api.socketPath. */
    socketPath: z.string().min(1).max(100).optional(),
    socketMode: FileMode.default(0o600),
    group: SocketGroup.optional(),
    maxConnections: z.number().int().min(1).max(256).default(8),
  })
  .strict();

export const PcscConfig = z
  .object({
    /** pcscd's socket (PCSCLITE_CSOCK_NAME); the system's default when absent. */
    socketPath: z.string().min(1).optional(),
    retryMinMs: z.number().int().min(10).max(60_000).default(250),
    retryMaxMs: z.number().int().min(10).max(600_000).default(5000),
  })
  .strict();

export const ProfilesConfig = z
  .object({
    /** Holds cards/, readers/ (and scales/, rates/) JSON profiles; validated at start-up. */
    dir: z.string().min(1).default(join(projectRoot(), "device-profiles")),
  })
  .strict();

export const Config = z
  .object({
    /**
     * `production` refuses to start with what only a test rig may have (production-config.ts):
     * published test keys, the default terminal id, simulated devices, a clear-text issuer host.
     */
    mode: z.enum(["production", "simulation"]).default("production"),
    logLevel: LogLevel.default("info"),
    /** Journals and other state that must survive restarts and power loss. */
    stateDir: z.string().min(1).default(defaultStateDir()),
    profiles: ProfilesConfig.prefault({}),
    value: ValueConfig.prefault({}),
    postage: PostageConfig.prefault({}),
    scale: ScaleConfig.prefault({}),
    api: ApiConfig.prefault({}),
    admin: AdminConfig.prefault({}),
    pcsc: PcscConfig.prefault({}),
    gateway: GatewayConfig.prefault({}),
    console: ConsoleConfig.prefault({}),
    /** The fleet's shared postage account and ledger on PostgreSQL (docs/fleet.md); none: one kiosk alone. */
    fleet: FleetConfig.optional(),
  })
  .strict()
  .transform((c) => ({
    ...c,
    admin: { ...c.admin, socketPath: c.admin.socketPath ?? join(dirname(c.api.socketPath), "admin.sock") },
  }));
export type Config = z.infer<typeof Config>;

/** The embedded default: everything from the schema's defaults. */
export function defaultConfig(): Config {
  return Config.parse({});
}

export function parseConfig(raw: unknown, source: string): Config {
  const parsed = Config.safeParse(raw);
  if (!parsed.success) {
    const problems = formatZodIssues(parsed.error);
    throw new TermhostError(
      "CONFIG_INVALID",
      `${source}: invalid configuration:\n  ${problems.join("\n  ")}`,
      {
        hint: "fix the fields named above; docs/config.md lists every field with its type and default",
        context: { source, problems },
      },
    );
  }
  return parsed.data;
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new TermhostError(
      "CONFIG_INVALID",
      `${path}: cannot read configuration (${(e as NodeJS.ErrnoException).code})`,
      {
        hint: "pass an existing file with --config, or none for the embedded default",
      },
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `${path}: not valid JSON: ${(e as Error).message}`, {
      hint: "the configuration file is one JSON object",
    });
  }
  return parseConfig(raw, path);
}
