import { z } from "zod";

const Int = z.number().int();
/** ISO 8601 in UTC, as the database's timestamps travel on the socket. */
const At = z.string();

/** This kiosk's part in the fleet, answered from memory: no database round trip. */
export const FleetKioskStatus = z.object({
  kioskId: z.string(),
  account: z.string(),
  /** The fleet schema was checked since termhostd started: refills from the account are possible. */
  ready: z.boolean(),
  outbox: z.object({
    /** Finished transactions not yet in the fleet ledger. */
    pending: Int.nonnegative(),
    /** The start-up catch-up with the ledger is done. */
    synced: z.boolean(),
    /** Ledger rows delivered since termhostd started. */
    sent: Int.nonnegative(),
    lastSentAt: At.nullable(),
    /** The last delivery failure, `CODE: message`; null once a delivery succeeded. */
    error: z.string().nullable(),
  }),
});
export type FleetKioskStatus = z.infer<typeof FleetKioskStatus>;

/**
 * The fleet as read from its database (FleetOverview in src/fleet/overview.ts) as it travels on the
 * socket; the handler's types hold the two to the same shape, so a change to one fails the build.
 */
export const FleetOverviewView = z.object({
  /** The shared account; null before it was first funded. */
  account: z
    .object({ id: z.string(), currency: z.string(), balance: Int, reserved: Int, funded: Int })
    .nullable(),
  /** Every kiosk that ever reported itself, by id. */
  kiosks: z.array(
    z.object({
      id: z.string(),
      lastSeen: At,
      version: z.string(),
      outboxPending: Int,
      meters: z.array(
        z.object({
          meter: z.string(),
          serial: z.string().nullable(),
          currency: z.string(),
          connected: z.boolean(),
          balance: Int,
          unreserved: Int,
        }),
      ),
    }),
  ),
  /** The account's reservations still holding funds (open or sending), oldest first, at most 200. */
  reservations: z.array(
    z.object({
      key: z.string(),
      kiosk: z.string(),
      meter: z.string(),
      amount: Int,
      state: z.string(),
      createdAt: At,
      leaseUntil: At,
    }),
  ),
  /** Ledger rows per UTC day and kind (load, debit, refill, batch), newest day first. */
  days: z.array(z.object({ day: z.string(), kind: z.string(), count: Int, amount: Int })),
});
export type FleetOverviewView = z.infer<typeof FleetOverviewView>;

/** The fleet overview for technicians (admin socket only). */
export const FleetMethods = {
  "admin.fleet": {
    description:
      "the fleet: kiosks with last seen and their meters' funds, the shared account, open reservations and ledger rows per day; and this kiosk's fleet status (ready, outbox). When the database does not answer, the kiosk's status still comes, with overview null and the error",
    params: z
      .object({
        /** How many days back the per-day table reaches. */
        days: z.number().int().min(1).max(90).default(7),
      })
      .strict(),
    result: z.object({
      kiosk: FleetKioskStatus,
      overview: FleetOverviewView.nullable(),
      /** Why overview is null: the database's error (FLEET_UNAVAILABLE: not answering). */
      error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }).nullable(),
    }),
  },
} as const;
