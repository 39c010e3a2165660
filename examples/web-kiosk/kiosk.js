// The example kiosk page: ask the gateway for a ticket, open the WebSocket with it, then load the
// card in the first reader holding a purse and print a batch, as examples/kiosk.ts does on api.sock.
import { BrowserClient, PROTOCOL, ticketProtocol } from "/m/src/client/browser-client.js";

const $ = (id) => document.getElementById(id);
const log = (text, cls) => {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  $("log").append(li);
};

async function connect() {
  const res = await fetch("/ticket", { method: "POST" });
  if (!res.ok) throw new Error(`ticket refused: ${res.status}`);
  const { ticket } = await res.json();
  return BrowserClient.kiosk(
    `ws://${location.host}/ws`,
    [PROTOCOL, ticketProtocol(ticket)],
    (u, p) => new WebSocket(u, p),
  );
}

const client = await connect();
const status = await client.call("system.status", {});
$("status").textContent = `termhost ${status.version}: ${status.readers.length} readers`;
$("go").disabled = false;
document.body.dataset.ready = "1";

$("order").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("go").disabled = true;
  const id = `web-${Date.now().toString(36)}`;
  try {
    const s = await client.call("system.status", {});
    const reader = s.readers.find((r) => r.card === "present" && r.cardProfile === "termhost purse")?.name;
    if (reader === undefined) throw new Error("no purse card in a reader");
    const load = await client.call("value.increase", {
      reader,
      amount: Number($("amount").value),
      currency: "EUR",
      requestId: `${id}-load`,
    });
    document.body.dataset.load = load.requestId;
    log(`load ${load.state}, balance ${load.balanceAfter}`);
    const meters = await client.call("postage.meters", {});
    const meter = meters.meters[0]?.meter;
    if (meter === undefined) throw new Error("no postage meter");
    const pieces = Array.from({ length: Number($("pieces").value) }, () => ({
      amount: 85,
      currency: "EUR",
      class: 1,
      origin: "10115",
    }));
    const batch = await client.call("postage.batch.start", { meter, pieces, requestId: `${id}-batch` });
    document.body.dataset.batch = batch.batchId;
    const done = await client.call("postage.batch.status", { batchId: batch.batchId, waitMs: 30000 });
    log(`batch ${done.state}, ${done.printedPieces}/${done.requestedPieces} printed`);
    document.body.dataset.done = done.state;
  } catch (e) {
    log(`${e.code ?? "ERROR"}: ${e.message}`, "error");
    document.body.dataset.done = "error";
  } finally {
    $("go").disabled = false;
  }
});
