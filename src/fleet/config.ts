import { z } from "zod";

const Name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "letters, digits, '.', '_' or '-', at most 64");

/** Where the fleet's PostgreSQL is and how the daemon talks to it (docs/fleet.md). */
export const FleetDatabaseConfig = z
  .object({
    /** A host name, or the directory of a unix socket (starts with '/'). */
    host: z.string().min(1).max(500),
    port: z.number().int().min(1).max(65_535).default(5432),
    database: z.string().min(1).max(63),
    user: z.string().min(1).max(63),
    /** A file holding the password (mode 0600); none for peer or certificate authentication. */
    passwordFile: z.string().min(1).optional(),
    /** TLS for a server over the network: the CA that signed the server's certificate, and a client certificate. */
    tls: z
      .object({
        caFile: z.string().min(1),
        certFile: z.string().min(1).optional(),
        keyFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Connections the daemon keeps open at most. */
    poolSize: z.number().int().min(1).max(20).default(3),
    connectTimeoutMs: z.number().int().min(100).max(60_000).default(3000),
    /** Server-side bound of one statement, and the client's wait for its answer (a silent network). */
    statementTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
    idleInTransactionTimeoutMs: z.number().int().min(100).max(120_000).default(5000),
    /** How long unacknowledged data may stay on a TCP connection before the server drops it. */
    tcpUserTimeoutMs: z.number().int().min(0).max(120_000).default(5000),
  })
  .strict();
export type FleetDatabaseConfig = z.infer<typeof FleetDatabaseConfig>;

export const InsufficientFleetProcedure = z.enum(["reject", "partial", "wait"]);
export type InsufficientFleetProcedure = z.infer<typeof InsufficientFleetProcedure>;

export const FleetConfig = z
  .object({
    /** This kiosk's name in the fleet: unique, stable across restarts. */
    kioskId: Name,
    /** The shared postage account the meters refill from. */
    account: Name,
    database: FleetDatabaseConfig,
    /** How long a reservation holds funds before the meter is asked to take them. */
    leaseMs: z.number().int().min(1000).max(3_600_000).default(120_000),
    /** What a refill does when the account's unreserved funds fall short. */
    onInsufficient: InsufficientFleetProcedure.default("reject"),
    /** How long `wait` waits for funds to be freed. */
    waitMs: z.number().int().min(0).max(600_000).default(30_000),
    /** Refill a meter from the account by itself: below `floor`, or when a batch needs more than it holds. */
    autoRefill: z
      .object({
        floor: z.number().int().min(0),
        amount: z.number().int().min(1),
      })
      .strict()
      .optional(),
    outbox: z
      .object({
        /** Ledger rows per INSERT when catching up. */
        batchSize: z.number().int().min(1).max(10_000).default(1000),
        /** Pause before sending again after the database failed to answer. */
        retryMs: z.number().int().min(10).max(60_000).default(1000),
        /** How often the kiosk reports itself (last seen, meters' funds) while idle. */
        heartbeatMs: z.number().int().min(100).max(600_000).default(15_000),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type FleetConfig = z.infer<typeof FleetConfig>;
