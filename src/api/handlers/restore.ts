import type { RpcServer } from "../../jsonrpc/server.js";
import type { ValueEngine } from "../../value/engine.js";
import type { ValueTx } from "../../value/records.js";
import { type RestoreEntry, RestoreMethods } from "../schemas/restore.js";
import { findTransaction, transactionView } from "./value.js";

export interface RestoreServices {
  value: ValueEngine;
}

function entry(engine: ValueEngine, tx: ValueTx): RestoreEntry {
  return { ...transactionView(engine, tx), counter: tx.counter, authorizationId: tx.authorizationId };
}

export function registerRestoreMethods(server: RpcServer, services: RestoreServices): void {
  const { value } = services;

  server.register("admin.restore.list", RestoreMethods["admin.restore.list"], (p) => {
    // Closed ones are decoded only when asked for: a day of them is a hundred thousand.
    const txs = [...(p.all ? value.state.txs.values() : value.state.txs.live.values())];
    txs.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    return { transactions: txs.map((tx) => entry(value, tx)) };
  });

  server.register("admin.restore.retry", RestoreMethods["admin.restore.retry"], async (p) => {
    const tx = findTransaction(value, p, "`termhost restore list` shows the open ones");
    const asked = value.retryNow(tx.txId);
    if (p.waitMs > 0) await value.settled(tx.txId, p.waitMs);
    return { transaction: entry(value, value.find({ txId: tx.txId }) ?? tx), readers: asked };
  });

  server.register("admin.restore.write-off", RestoreMethods["admin.restore.write-off"], async (p) => {
    const tx = findTransaction(value, p, "`termhost restore list` shows the open ones");
    const closed = await value.writeOff(tx.txId, p.note);
    return { transaction: entry(value, closed) };
  });
}
