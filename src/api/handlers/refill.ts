import { TermhostError } from "../../errors/errors.js";
import type { FleetService } from "../../fleet/service.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import { refillTxnId } from "../../postage/batch/ids.js";
import type { PostageService } from "../../postage/postage-service.js";
import { currencyNumeric } from "../../purse/currency.js";
import type { ValueEngine } from "../../value/engine.js";
import { isOpen, type ValueTx } from "../../value/records.js";
import type { EventHub } from "../events.js";
import { PostageMethods } from "../schemas/postage.js";

type RefillResult = ReturnType<(typeof PostageMethods)["postage.refill"]["result"]["parse"]>;

function refillView(tx: ValueTx, txnId: string, controlTotalAfter: number | null): RefillResult {
  return {
    requestId: tx.requestId,
    meter: tx.reader,
    txnId,
    amount: tx.amount,
    state: tx.phase === "applied" ? "applied" : "pending",
    controlTotalAfter,
  };
}

/**
 * `postage.refill`: a value increase of a meter through the value engine (authorize → journal →
 * REFILL → restore), so `value.status` knows it too. A refill the daemon cannot authorize is refused
 * before anything is journaled, so the same request id can be sent again with an authorization.
 */
export function registerRefillMethod(
  server: RpcServer,
  services: { postage: PostageService | undefined; value: ValueEngine; fleet?: FleetService | undefined },
): void {
  const { postage, value, fleet } = services;
  if (postage === undefined) return;
  server.register("postage.refill", PostageMethods["postage.refill"], async (p) => {
    const waitMs = 10_000;
    const known = value.find({ requestId: p.requestId });
    const { serial, currency } =
      known?.cardId != null && known.kind === "refill"
        ? { serial: known.cardId, currency: "" }
        : await postage.identity(p.meter, waitMs);
    const txnId = refillTxnId(serial, p.requestId);
    // The currency asked for is the meter's; the amount and its limit are checked by the meter
    // family in the value engine, after the request id is claimed (a known id gets its ledger answer).
    if (known === undefined && !value.knows(p.requestId)) postage.checkRefillCurrency(p);
    if (known === undefined && p.authorization === undefined && !postage.signsRefills(p.meter))
      throw new TermhostError(
        "POSTAGE_REFILL_UNAUTHORIZED",
        `refill of meter ${p.meter} needs a vendor authorization`,
        {
          hint:
            "obtain it from the meter vendor for this transaction id, amount, control total before and next " +
            "inspection date; it is valid only while the meter's control total is the one it names",
          context: {
            meter: p.meter,
            serial,
            txnId,
            amount: p.amount,
            controlTotalBefore: postage.controlTotal(p.meter) ?? null,
            nextInspection: p.nextInspection,
          },
        },
      );
    const terms: Record<string, string> = { nextInspection: p.nextInspection };
    if (p.authorization !== undefined) terms.authorization = p.authorization;
    // With a fleet account the funds are reserved there first: the refill moves what was granted.
    let amount = p.amount;
    const fresh = known === undefined && !value.knows(p.requestId);
    if (fleet !== undefined && fresh) {
      postage.checkRefillAmount(p);
      amount = await fleet.refills.reserveFor({ meter: p.meter, serial, requestId: p.requestId, amount });
    }
    let tx: ValueTx;
    try {
      tx = await value.refill({
        reader: p.meter,
        amount,
        currency: known?.currency ?? currencyNumeric(currency) ?? 0,
        requestId: p.requestId,
        terms,
      });
    } catch (e) {
      if (fleet !== undefined && fresh && value.find({ requestId: p.requestId }) === undefined)
        await fleet.refills.release(serial, p.requestId);
      throw e;
    }
    if (isOpen(tx)) tx = (await value.settled(tx.txId, waitMs)) ?? tx;
    if (tx.phase === "failed")
      throw new TermhostError(
        tx.error?.code === "POSTAGE_REFILL_UNAUTHORIZED"
          ? "POSTAGE_REFILL_UNAUTHORIZED"
          : "POSTAGE_REFILL_FAILED",
        `refill refused: ${tx.error?.message ?? "unknown"}`,
        {
          hint: "value.status with this requestId shows the transaction; a new refill needs a new request id",
          context: { requestId: tx.requestId, meter: tx.reader, txId: tx.txId, code: tx.error?.code },
        },
      );
    const after = tx.phase === "applied" ? (postage.controlTotal(p.meter) ?? null) : null;
    return refillView(tx, txnId, after);
  });
}

/** Every settled refill on the `postage` topic too, where kiosks watching funds listen. */
export function publishRefillEvents(engine: ValueEngine, hub: EventHub): () => void {
  const listener = (tx: ValueTx): void => {
    if (tx.kind !== "refill" || isOpen(tx)) return;
    hub.publish("postage", {
      kind: "refill",
      requestId: tx.requestId,
      meter: tx.reader,
      txId: tx.txId,
      amount: tx.amount,
      state: tx.phase,
    });
  };
  engine.on("transaction", listener);
  return () => engine.off("transaction", listener);
}
