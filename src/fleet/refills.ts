import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { isTermhostError, TermhostError } from "../errors/errors.js";
import { refillTxnId } from "../postage/batch/ids.js";
import type { PostageService } from "../postage/postage-service.js";
import { currencyNumeric } from "../purse/currency.js";
import type { ValueEngine } from "../value/engine.js";
import { isOpen, type ValueTx } from "../value/records.js";
import type { FleetAccount } from "./account.js";
import type { FleetConfig } from "./config.js";

const QUIET_MS = 1000;

export interface ReserveFor {
  meter: string;
  serial: string;
  requestId: string;
  amount: number;
}

/**
 * Refills from the fleet's account: the funds are reserved first, against the unreserved balance,
 * under the configured insufficient-funds procedure (reject, partial: what there is, wait: until a
 * reservation ends or the wait runs out); the refill then goes through the value engine for what was
 * granted, and its settlement (posted or voided) reaches the account through the outbox.
 */
export class FleetRefills {
  private readonly auto = new Map<string, Promise<boolean>>();
  /** After an automatic refill was not made, the next waits this long (a short account is not asked per indicium). */
  private readonly quietUntil = new Map<string, number>();
  private readonly unsigned = new Set<string>();
  /** The account's currency, once read: an account's currency never changes. */
  private accountCurrency: string | undefined;

  constructor(
    private readonly o: {
      account: FleetAccount;
      config: FleetConfig;
      postage: PostageService;
      value: ValueEngine;
      ready: () => void;
      log?: Logger | undefined;
    },
  ) {}

  /** The amount granted for this refill; throws FLEET_INSUFFICIENT_FUNDS under the procedure. */
  async reserveFor(r: ReserveFor): Promise<number> {
    this.o.ready();
    await this.checkCurrency(r.meter);
    const key = refillTxnId(r.serial, r.requestId);
    const procedure = this.o.config.onInsufficient;
    const min = procedure === "partial" ? 1 : r.amount;
    const deadline = Date.now() + (procedure === "wait" ? this.o.config.waitMs : 0);
    for (let pauseMs = 50; ; pauseMs = Math.min(pauseMs * 2, 1000)) {
      const got = await this.o.account.reserve(key, r.meter, r.amount, min);
      if (got.kind === "granted") {
        if (got.state !== "open" && got.state !== "sending")
          throw new TermhostError(
            "FLEET_RESERVATION_CLOSED",
            `the reservation for request ${r.requestId} is already ${got.state}`,
            {
              hint: "a new refill needs a new request id",
              context: { requestId: r.requestId, state: got.state },
            },
          );
        return got.amount;
      }
      if (Date.now() >= deadline)
        throw new TermhostError(
          "FLEET_INSUFFICIENT_FUNDS",
          `the fleet account's unreserved funds ${got.unreserved} do not cover ${r.amount}`,
          {
            hint:
              procedure === "wait"
                ? "no reservation ended in time: fund the fleet account or retry later"
                : "fund the fleet account, ask for less, or configure fleet.onInsufficient 'partial' or 'wait'",
            context: {
              account: this.o.config.account,
              meter: r.meter,
              needed: r.amount,
              unreserved: got.unreserved,
              procedure,
            },
          },
        );
      if (pauseMs === 50)
        this.o.log?.info(
          { requestId: r.requestId, meter: r.meter, needed: r.amount, unreserved: got.unreserved },
          "refill waits for the fleet account's funds",
        );
      await new Promise((res) => setTimeout(res, Math.min(pauseMs, Math.max(1, deadline - Date.now()))));
    }
  }

  /** The account holds the meter's currency: refused before anything is reserved when not. */
  private async checkCurrency(meter: string): Promise<void> {
    this.accountCurrency ??= (await this.o.account.funds())?.currency;
    const meterCurrency = this.o.postage.balance(meter).currency;
    if (this.accountCurrency !== undefined && this.accountCurrency !== meterCurrency)
      throw new TermhostError(
        "VALUE_REFUSED",
        `the fleet account '${this.o.config.account}' holds ${this.accountCurrency}; meter ${meter} holds ${meterCurrency}`,
        {
          hint: "give the kiosk the fleet account of its meters' currency (fleet.account)",
          context: {
            account: this.o.config.account,
            accountCurrency: this.accountCurrency,
            meter,
            meterCurrency,
          },
        },
      );
  }

  /** Gives back a reservation whose refill never reached the value engine's journal. */
  async release(serial: string, requestId: string): Promise<void> {
    await this.o.account
      .settle(refillTxnId(serial, requestId), null)
      .catch((e: unknown) =>
        this.o.log?.warn({ requestId, err: String(e) }, "reservation left to its lease: not given back"),
      );
  }

  /**
   * A refill the kiosk asks for by itself (below the floor, a batch short of funds): at least
   * `shortfall`, and `autoRefill.amount` when that is more. One at a time per meter; true when
   * something was credited.
   */
  refillShort(meter: string, shortfall: number): Promise<boolean> {
    const running = this.auto.get(meter);
    if (running !== undefined) return running;
    if ((this.quietUntil.get(meter) ?? 0) > Date.now()) return Promise.resolve(false);
    const p = this.autoRefill(meter, shortfall)
      .then((ok) => {
        if (!ok) this.quietUntil.set(meter, Date.now() + QUIET_MS);
        return ok;
      })
      .finally(() => this.auto.delete(meter));
    this.auto.set(meter, p);
    return p;
  }

  private async autoRefill(meter: string, shortfall: number): Promise<boolean> {
    const auto = this.o.config.autoRefill;
    if (auto === undefined) return false;
    // The kiosk asks nobody for a vendor's authorization by itself: only a meter it signs refills for.
    if (!this.o.postage.signsRefills(meter)) {
      if (!this.unsigned.has(meter))
        this.o.log?.warn({ meter }, "automatic refill needs a meter the daemon signs refills for; none made");
      this.unsigned.add(meter);
      return false;
    }
    try {
      const { serial, currency } = await this.o.postage.identity(meter, 5000);
      const inspection = this.o.postage.driver(meter).status?.inspectionDue;
      if (inspection === undefined) return false;
      const amount = Math.max(auto.amount, shortfall);
      const requestId = `fleet-${this.o.config.kioskId}-${Date.now().toString(36)}-${randomBytes(4).toString("hex")}`;
      const granted = await this.reserveFor({ meter, serial, requestId, amount });
      let tx: ValueTx;
      try {
        tx = await this.o.value.refill({
          reader: meter,
          amount: granted,
          currency: currencyNumeric(currency) ?? 0,
          requestId,
          terms: { nextInspection: inspection },
        });
      } catch (e) {
        if (this.o.value.find({ requestId }) === undefined) await this.release(serial, requestId);
        throw e;
      }
      if (isOpen(tx)) tx = (await this.o.value.settled(tx.txId, 30_000)) ?? tx;
      this.o.log?.info(
        { meter, requestId, amount: granted, state: tx.phase },
        "meter refilled from the fleet account",
      );
      return tx.phase === "applied";
    } catch (e) {
      const level = isTermhostError(e, "FLEET_INSUFFICIENT_FUNDS") ? "info" : "warn";
      this.o.log?.[level](
        { meter, shortfall, err: String(e) },
        "automatic refill from the fleet account not made",
      );
      return false;
    }
  }
}
