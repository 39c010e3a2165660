import { TermhostError } from "../errors/errors.js";
import type { RefillGate } from "../postage/refill/gate.js";
import type { FleetAccount } from "./account.js";

/** The shared account as the meter family's gate: funds held before the authorization, bound before REFILL. */
export class FleetGate implements RefillGate {
  constructor(
    private readonly account: FleetAccount,
    private readonly ready: () => void,
  ) {}

  async hold(key: string, amount: number): Promise<void> {
    this.ready();
    const r = await this.account.renew(key);
    if (r !== undefined && (r.state === "open" || r.state === "sending") && r.amount >= amount) return;
    throw new TermhostError(
      "FLEET_RESERVATION_CLOSED",
      r === undefined
        ? `no reservation of the fleet account holds funds for refill ${key}`
        : `the reservation for refill ${key} is ${r.state}, holding ${r.amount}`,
      {
        hint: "ask for the refill again with a new request id: it reserves anew",
        context: { key, amount, ...(r === undefined ? {} : { state: r.state, held: r.amount }) },
      },
    );
  }

  async maySend(key: string): Promise<boolean> {
    this.ready();
    const state = await this.account.sending(key);
    if (state === "sending" || state === "posted") return true;
    if (state === "expired" || state === "voided") return false;
    // No reservation was ever made for it (a refill from before the fleet was configured): whether
    // it left cannot be told from here, so it is neither sent nor given up.
    throw new TermhostError(
      "FLEET_RESERVATION_CLOSED",
      `no reservation of the fleet account is known for refill ${key}`,
      {
        hint: "a refill journaled before the fleet was configured: settle it with the meter vendor, then write it off",
        context: { key, state },
      },
    );
  }
}
