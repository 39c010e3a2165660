// The technician console: log in with the ticket in the URL's fragment, then show the daemon's
// state from the admin API and keep it current from its events, without reloading.
import { BrowserClient, PROTOCOL } from "/m/src/client/browser-client.js";

const $ = (id) => document.getElementById(id);
const el = (tag, text, cls) => {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
};

if (location.hash.length > 1) {
  const ticket = location.hash.slice(1);
  history.replaceState(null, "", "/");
  const res = await fetch("/session", { method: "POST", body: JSON.stringify({ ticket }) });
  if (!res.ok) $("conn").textContent = "login ticket refused: run `termhost console` for a new one";
}

// The ATR's ISO 7816-3 structure, read in the page: convention, protocols offered (TD bytes),
// Fi/Di (TA1) and the historical bytes, where issuers often put a name.
function explainAtr(hex) {
  const b = (hex.match(/[0-9a-f]{2}/gi) ?? []).map((x) => Number.parseInt(x, 16));
  if (b.length < 2) return "too short for an ATR";
  const conv = b[0] === 0x3b ? "direct" : b[0] === 0x3f ? "inverse" : "bad TS";
  let i = 1;
  let y = b[1] >> 4;
  const k = b[1] & 0x0f;
  const protocols = new Set();
  let ta1;
  for (let group = 1; i < b.length; group++) {
    i++;
    if (y & 1) {
      if (group === 1) ta1 = b[i];
      i++;
    }
    if (y & 2) i++;
    if (y & 4) i++;
    if (!(y & 8)) break;
    const td = b[i];
    protocols.add(td & 0x0f);
    y = td >> 4;
  }
  if (protocols.size === 0) protocols.add(0);
  const hist = b.slice(i, i + k);
  const text = hist.map((c) => (c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : ".")).join("");
  const fidi = ta1 === undefined ? "default Fi/Di" : `Fi index ${ta1 >> 4}, Di index ${ta1 & 0x0f}`;
  return `${conv} convention, T=${[...protocols].join(",")}, ${fidi}, historical "${text}"`;
}

const client = await BrowserClient.admin(
  `ws://${location.host}/ws`,
  [PROTOCOL],
  (u, p) => new WebSocket(u, p),
);
$("conn").textContent = "live";
client.whenClosed(() => {
  $("conn").textContent = "disconnected: reload";
});

async function readers() {
  const s = await client.call("system.status", {});
  const box = $("readers");
  box.replaceChildren();
  for (const r of s.readers) {
    const cls = r.card === "present" ? "ok" : r.card === "absent" ? "" : "bad";
    const d = el("div", undefined, `card ${cls}`);
    d.dataset.reader = r.name;
    d.dataset.card = r.card;
    d.append(
      el("b", r.name),
      el("div", `card: ${r.card}${r.cardProfile ? ` (${r.cardProfile})` : ""} since ${r.since}`),
    );
    if (r.atr) d.append(el("code", r.atr), el("div", explainAtr(r.atr)));
    box.append(d);
  }
}

async function meters() {
  const m = await client.call("postage.meters", {});
  const box = $("meters");
  box.replaceChildren();
  for (const f of m.meters) {
    const reg = f.registers;
    const sumOk = reg ? reg.ascending + reg.descending === reg.controlTotal : null;
    const days = f.status ? Math.ceil((Date.parse(f.status.inspectionDue) - Date.now()) / 86400000) : null;
    const cls =
      !f.connected || sumOk === false || (days !== null && days < 0)
        ? "bad"
        : days !== null && days < 14
          ? "warn"
          : "ok";
    const d = el("div", undefined, `card ${cls}`);
    d.dataset.meter = f.meter;
    d.append(el("b", `${f.meter} ${f.connected ? "" : "(offline)"}`));
    d.append(el("div", `balance ${f.balance} reserved ${f.reserved} ${f.currency}`));
    if (reg) {
      d.append(
        el(
          "div",
          `ascending ${reg.ascending} + descending ${reg.descending} = ${reg.ascending + reg.descending}; control total ${reg.controlTotal}: ${sumOk ? "OK" : "MISMATCH"}`,
        ),
      );
      d.append(el("div", `pieces ${reg.pieceCount}, serial ${reg.serial}`));
    }
    if (days !== null)
      d.append(
        el("div", `inspection due ${f.status.inspectionDue}: ${days < 0 ? "OVERDUE" : `in ${days} days`}`),
      );
    box.append(d);
  }
}

async function scale() {
  try {
    const s = await client.call("scale.status", {});
    $("scale").textContent = JSON.stringify(s);
  } catch (e) {
    $("scale").textContent = `${e.code}: ${e.message}`;
  }
}

async function restore() {
  const open = await client.call("admin.restore.list", {});
  const t = $("restore");
  t.replaceChildren();
  for (const tx of open.transactions) {
    const row = el("tr");
    row.dataset.tx = tx.txId;
    const btn = el("button", "retry");
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        const r = await client.call("admin.restore.retry", { txId: tx.txId, waitMs: 10000 });
        const t = r.transaction;
        $("restore-note").textContent =
          `${t.txId}: ${t.state}${t.restored ? ` (${t.restored})` : ""}${t.state === "restoring" && r.readers.length === 0 ? ": insert its card" : ""}`;
      } catch (e) {
        $("restore-note").textContent = `${tx.txId}: ${e.code}`;
      }
      await refresh();
    });
    row.append(
      el("td", tx.txId),
      el("td", `${tx.kind} ${tx.amount} ${tx.currency}`),
      el("td", tx.state),
      el("td", tx.error?.code ?? ""),
      el("td").appendChild(btn).parentNode,
    );
    t.append(row);
  }
  $("restore").dataset.count = String(open.transactions.length);
  const all = await client.call("admin.restore.list", { all: true });
  $("journal").replaceChildren(
    ...all.transactions
      .slice(0, 30)
      .map((tx) => el("li", `${tx.updatedAt} ${tx.txId} ${tx.kind} ${tx.amount} ${tx.state} ${tx.phase}`)),
  );
}

async function refresh() {
  await Promise.all([readers(), meters(), scale(), restore()]);
}

client.onEvent((e) => {
  const li = el("li", `${e.time} ${e.topic} ${JSON.stringify(e.data).slice(0, 160)}`);
  $("events").prepend(li);
  if (e.topic === "readers" || e.topic === "cards") void readers();
  else if (e.topic === "postage") void meters();
  else if (e.topic === "scale") $("scale").textContent = JSON.stringify(e.data);
  else if (e.topic === "value" || e.topic === "restore") void restore();
});
await client.call("events.subscribe", {
  topics: ["readers", "cards", "value", "restore", "postage", "scale", "system"],
});
await refresh();
document.body.dataset.ready = "1";
