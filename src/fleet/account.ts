import { z } from "zod";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import type { FleetDb } from "./db.js";

/** The states of a reservation (docs/fleet.md): open → sending → posted | voided; open → expired | voided. */
export const ReservationState = z.enum(["open", "sending", "posted", "voided", "expired"]);
export type ReservationState = z.infer<typeof ReservationState>;

const Int = z.coerce.number().int();

const ReserveRow = z.object({
  state: z.union([ReservationState, z.literal("refused")]),
  amount: Int,
  lease_until: z.date().nullable(),
  unreserved: Int.nullable(),
  created: z.boolean(),
});
const RenewRow = z.object({ state: ReservationState, amount: Int, lease_until: z.date() });
const FundsRow = z.object({ currency: z.string(), balance: Int, reserved: Int, funded: Int });
const Settled = z.union([ReservationState, z.enum(["unknown", "not-sent", "over"])]);
/** What a settlement answers: the state the reservation ended in, or why a post could not be. */
export type Settlement = z.infer<typeof Settled>;

export type Reservation =
  | {
      kind: "granted";
      key: string;
      amount: number;
      state: ReservationState;
      leaseUntil: Date | null;
      created: boolean;
    }
  | { kind: "refused"; unreserved: number };

export interface AccountFunds {
  account: string;
  currency: string;
  balance: number;
  reserved: number;
  unreserved: number;
  funded: number;
}

/**
 * The fleet's shared postage account, from one kiosk: reservations against the unreserved balance
 * with a lease, the step that binds one to a meter's outcome, and its settlement. Every call is one
 * database function, idempotent by the reservation's key (the refill's meter transaction id), so a
 * lost answer — a COMMIT whose result never arrived — is settled by asking again.
 */
export class FleetAccount {
  constructor(
    private readonly db: FleetDb,
    readonly o: { account: string; kioskId: string; leaseMs: number },
  ) {}

  /** Reserves up to `amount`, at least `min`; the same key answers the reservation it made. */
  async reserve(key: string, meter: string, amount: number, min: number): Promise<Reservation> {
    const call = () =>
      this.db.query("SELECT * FROM fleet_reserve($1, $2, $3, $4, $5, $6, $7)", [
        key,
        this.o.account,
        this.o.kioskId,
        meter,
        amount,
        min,
        this.o.leaseMs,
      ]);
    let rows: unknown[];
    try {
      rows = await call();
    } catch (e) {
      // Two sends of one key raced to insert it: the second finds the first's reservation.
      if (!isTermhostError(e, "INTERNAL") || e.context?.sqlstate !== "23505") throw this.noAccount(e);
      rows = await call();
    }
    const r = ReserveRow.parse(rows[0]);
    if (r.state === "refused") return { kind: "refused", unreserved: r.unreserved ?? 0 };
    return {
      kind: "granted",
      key,
      amount: r.amount,
      state: r.state,
      leaseUntil: r.lease_until,
      created: r.created,
    };
  }

  /** Renews an open reservation's lease; its state, or undefined when the key is unknown. */
  async renew(key: string): Promise<{ state: ReservationState; amount: number } | undefined> {
    const rows = await this.db.query("SELECT * FROM fleet_renew($1, $2)", [key, this.o.leaseMs]);
    if (rows.length === 0) return undefined;
    const r = RenewRow.parse(rows[0]);
    return { state: r.state, amount: r.amount };
  }

  /** Marks the reservation as being sent to the meter; its state after (`sending` when it may be sent). */
  async sending(key: string): Promise<Settlement> {
    const rows = await this.db.query<{ s: string }>("SELECT fleet_sending($1) AS s", [key]);
    return Settled.parse(rows[0]?.s);
  }

  /** Posts by `credited`, or voids with null; the state the reservation ended in. */
  async settle(key: string, credited: number | null): Promise<Settlement> {
    const rows = await this.db.query<{ s: string }>("SELECT fleet_settle($1, $2) AS s", [key, credited]);
    return Settled.parse(rows[0]?.s);
  }

  async funds(): Promise<AccountFunds | undefined> {
    const rows = await this.db.query(
      "SELECT currency, balance, reserved, funded FROM fleet_account WHERE id = $1",
      [this.o.account],
    );
    if (rows.length === 0) return undefined;
    const r = FundsRow.parse(rows[0]);
    return { account: this.o.account, ...r, unreserved: r.balance - r.reserved };
  }

  private noAccount(e: unknown): unknown {
    if (isTermhostError(e, "INTERNAL") && e.context?.sqlstate === "P0002")
      return new TermhostError("FLEET_INSUFFICIENT_FUNDS", `the fleet has no account '${this.o.account}'`, {
        hint: "fund it first (docs/fleet.md: SELECT fleet_fund(account, currency, amount, note)) or fix fleet.account",
        context: { account: this.o.account, unreserved: 0 },
      });
    return e;
  }
}
