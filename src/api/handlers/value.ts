import { TermhostError } from "../../errors/errors.js";
import type { RpcServer } from "../../jsonrpc/server.js";
import { currencyAlpha, currencyNumeric } from "../../purse/currency.js";
import type { ValueEngine } from "../../value/engine.js";
import type { ValueTx } from "../../value/records.js";
import type { EventHub } from "../events.js";
import { ValueMethods, type ValueTransaction } from "../schemas/value.js";

export interface ValueServices {
  value: ValueEngine;
  events: EventHub;
}

export function transactionView(engine: ValueEngine, tx: ValueTx): ValueTransaction {
  const final = tx.phase === "applied" || tx.phase === "failed" || tx.phase === "unresolved";
  return {
    txId: tx.txId,
    requestId: tx.requestId,
    kind: tx.kind,
    reader: tx.reader,
    amount: tx.amount,
    currency: currencyAlpha(tx.currency) ?? String(tx.currency),
    state: final
      ? (tx.phase as "applied" | "failed" | "unresolved")
      : engine.isRunning(tx.txId)
        ? "pending"
        : "restoring",
    phase: tx.phase,
    cardId: tx.cardId,
    balanceAfter: tx.balanceAfter,
    restored: tx.restored,
    error: final ? tx.error : (tx.error ?? engine.waitingReason(tx.txId)),
    reversal: tx.reversal,
    reversalRefused: tx.reversalRefused,
    unresolved: tx.unresolved,
    createdAt: tx.createdAt,
    updatedAt: tx.updatedAt,
  };
}

export function registerValueMethods(server: RpcServer, services: ValueServices): void {
  const { value } = services;
  const request = (p: { reader: string; amount: number; currency: string; requestId: string }) => ({
    ...p,
    currency: currencyNumeric(p.currency) ?? 0,
  });
  server.register("value.increase", ValueMethods["value.increase"], async (p) =>
    transactionView(value, await value.increase(request(p))),
  );
  server.register("value.debit", ValueMethods["value.debit"], async (p) =>
    transactionView(value, await value.debit(request(p))),
  );
  server.register("value.status", ValueMethods["value.status"], (p) =>
    transactionView(
      value,
      findTransaction(value, p, "a requestId is known once value.increase or value.debit accepted it"),
    ),
  );
}

/** The transaction a `txId` or `requestId` names, or TRANSACTION_NOT_FOUND with `hint`. */
export function findTransaction(
  engine: ValueEngine,
  p: { txId?: string | undefined; requestId?: string | undefined },
  hint: string,
): ValueTx {
  const q: { txId?: string; requestId?: string } = {};
  if (p.txId !== undefined) q.txId = p.txId;
  if (p.requestId !== undefined) q.requestId = p.requestId;
  const tx = engine.find(q);
  if (tx === undefined)
    throw new TermhostError("TRANSACTION_NOT_FOUND", "no such value transaction", { hint, context: q });
  return tx;
}

/** Every journaled step on the `value` topic; interruptions and their settlement on `restore`. */
export function publishValueEvents(engine: ValueEngine, hub: EventHub): void {
  engine.on("transaction", (tx, step) =>
    hub.publish("value", { step, transaction: transactionView(engine, tx) }),
  );
  engine.on("restore.pending", (tx) =>
    hub.publish("restore", { kind: "restore.pending", transaction: transactionView(engine, tx) }),
  );
  engine.on("restore.completed", (tx) =>
    hub.publish("restore", { kind: "restore.completed", transaction: transactionView(engine, tx) }),
  );
}
