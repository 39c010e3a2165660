import { z } from "zod";
import type { FleetDb } from "./db.js";

const Int = z.coerce.number().int();
const At = z.date().transform((d) => d.toISOString());

export const FleetKiosk = z.object({
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
});
export const FleetReservationView = z.object({
  key: z.string(),
  kiosk: z.string(),
  meter: z.string(),
  amount: Int,
  state: z.string(),
  createdAt: At,
  leaseUntil: At,
});
export const FleetDay = z.object({ day: z.string(), kind: z.string(), count: Int, amount: Int });
export const FleetOverview = z.object({
  account: z
    .object({ id: z.string(), currency: z.string(), balance: Int, reserved: Int, funded: Int })
    .nullable(),
  kiosks: z.array(FleetKiosk),
  reservations: z.array(FleetReservationView),
  days: z.array(FleetDay),
});
export type FleetOverview = z.infer<typeof FleetOverview>;

/** The fleet as a technician or an operator sees it: one read of the database, decided from the primary. */
export async function fleetOverview(db: FleetDb, account: string, days: number): Promise<FleetOverview> {
  const [acc, kiosks, reservations, perDay] = await Promise.all([
    db.query("SELECT id, currency, balance, reserved, funded FROM fleet_account WHERE id = $1", [account]),
    db.query(
      `SELECT id, last_seen AS "lastSeen", version, outbox_pending AS "outboxPending", meters
         FROM fleet_kiosk ORDER BY id`,
    ),
    db.query(
      `SELECT key, kiosk_id AS kiosk, meter, amount, state, created_at AS "createdAt", lease_until AS "leaseUntil"
         FROM fleet_reservation WHERE state IN ('open', 'sending') AND account_id = $1
         ORDER BY created_at LIMIT 200`,
      [account],
    ),
    db.query(
      `SELECT to_char(date_trunc('day', at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, kind,
              count(*) AS count, coalesce(sum(amount), 0) AS amount
         FROM fleet_ledger WHERE at >= now() - make_interval(days => $1)
         GROUP BY 1, 2 ORDER BY 1 DESC, 2`,
      [days],
    ),
  ]);
  return FleetOverview.parse({ account: acc[0] ?? null, kiosks, reservations, days: perDay });
}
