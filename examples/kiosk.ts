#!/usr/bin/env node
/**
 * A minimal kiosk application on termhost's client library: wait for a purse card, load it, then
 * print a small batch of postage indicia, showing progress. Run it against `make run`:
 *
 *   node dist/examples/kiosk.js [--amount 500] [--pieces 3] [--socket /run/termhost/api.sock]
 *
 * Every value-moving call carries a requestId chosen here: if this script (or the daemon) dies
 * mid-way, running it again with the same --id gets the same transactions back instead of new ones.
 */
import { parseArgs } from "node:util";
import { TermhostClient } from "../src/client/client.js";
import { isTermhostError } from "../src/errors/errors.js";

const { values: args } = parseArgs({
  options: {
    socket: { type: "string" },
    amount: { type: "string", default: "500" },
    pieces: { type: "string", default: "3" },
    meter: { type: "string", default: "termhost simulated meter" },
    id: { type: "string", default: `kiosk-${Date.now().toString(36)}` },
    "wait-card-ms": { type: "string", default: "60000" },
  },
});

const client = await TermhostClient.connect(args.socket === undefined ? {} : { socketPath: args.socket });
try {
  // 1. A purse card: the first reader whose card the daemon identifies as a purse.
  console.log("insert a purse card (npx termhost-sim insert 0)…");
  const deadline = Date.now() + Number(args["wait-card-ms"]);
  let reader: string | undefined;
  for (const cards = client.events(["cards"]); ; ) {
    const status = await client.status();
    reader = status.readers.find((r) => r.card === "present" && r.cardProfile === "termhost purse")?.name;
    if (reader !== undefined || Date.now() > deadline) {
      await cards.return();
      break;
    }
    // Re-check on the next card event rather than polling.
    const next = await Promise.race([cards.next(), new Promise((r) => setTimeout(r, deadline - Date.now()))]);
    void next;
  }
  if (reader === undefined) throw new Error("no purse card was inserted");
  console.log(`card in ${reader}`);

  // 2. Load it. A `restoring` answer means the card was pulled mid-way: the daemon finishes the
  //    load when the card comes back; value.status tells when.
  const load = await client.call("value.increase", {
    reader,
    amount: Number(args.amount),
    currency: "EUR",
    requestId: `${args.id}-load`,
  });
  console.log(
    `load ${load.txId}: ${load.state}${load.balanceAfter === null ? "" : `, balance ${load.balanceAfter}`}`,
  );

  // 3. A batch of indicia from the meter's funds, with progress notifications.
  const progress = client.events(["postage"]);
  void (async () => {
    for await (const e of progress) {
      if (e.type === "event") console.log(`  postage: ${JSON.stringify(e.data).slice(0, 120)}`);
    }
  })();
  const pieces = Array.from({ length: Number(args.pieces) }, () => ({
    amount: 85,
    currency: "EUR",
    class: 1,
    origin: "10115",
  }));
  const batch = await client.call("postage.batch.start", {
    meter: args.meter,
    pieces,
    requestId: `${args.id}-batch`,
    onInsufficient: "reject",
  });
  const done = await client.call("postage.batch.status", { batchId: batch.batchId, waitMs: 30_000 });
  await progress.return();
  console.log(`batch ${done.batchId}: ${done.state}, ${done.printedPieces}/${done.requestedPieces} printed`);
  for (const i of done.indicia)
    console.log(`  indicium #${i.sequence} ${i.amount} ${done.currency} mac ${i.mac}`);
} catch (e) {
  console.error(isTermhostError(e) ? e.describe() : (e as Error).message);
  process.exitCode = 1;
} finally {
  client.close();
}
