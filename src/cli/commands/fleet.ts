import type { Command } from "commander";
import type { FleetMethods } from "../../api/schemas/index.js";
import type { ErrorCode } from "../../errors/errors.js";
import { bold, green, red, yellow } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { exitCodeFor } from "../exit-codes.js";
import { table } from "../format.js";
import { intOption } from "./options.js";

export type FleetResult = ReturnType<(typeof FleetMethods)["admin.fleet"]["result"]["parse"]>;
type Overview = NonNullable<FleetResult["overview"]>;

/** A span as a technician reads it at a glance: the largest unit only. */
export function span(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** "12 s ago" for a past instant; the database's clock may run a little ahead of the kiosk's. */
export function ago(iso: string, now: number): string {
  return `${span(now - Date.parse(iso))} ago`;
}

function leaseLeft(r: Overview["reservations"][number], now: number): string {
  // A reservation being sent no longer expires: the meter's outcome posts or voids it.
  if (r.state === "sending") return "- (sending)";
  const left = Date.parse(r.leaseUntil) - now;
  return left >= 0 ? `${span(left)} left` : yellow(`passed ${span(-left)} ago`);
}

function formatKiosk(k: FleetResult["kiosk"], now: number): string {
  const o = k.outbox;
  const state = k.ready ? green("ready") : red("not ready (database not reached since start)");
  const sent = `${o.sent} sent${o.lastSentAt === null ? "" : `, last ${ago(o.lastSentAt, now)}`}`;
  const lines = [
    `${bold("this kiosk")} ${k.kioskId}  account ${k.account}  ${state}`,
    `  outbox  ${o.pending} pending, ${sent}${o.synced ? "" : ", catching up"}`,
  ];
  if (o.error !== null) lines.push(`  outbox  last error ${red(o.error)}`);
  return lines.join("\n");
}

function formatOverview(v: Overview, now: number): string {
  const a = v.account;
  const lines = [
    a === null
      ? `${bold("account")} not funded yet (fleet_fund)`
      : `${bold("account")} ${a.id}  balance ${a.balance} ${a.currency}  reserved ${a.reserved}  unreserved ${a.balance - a.reserved}  funded ${a.funded}`,
    "",
  ];
  const kiosks = [...v.kiosks].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  if (kiosks.length === 0) lines.push("no kiosk has reported itself yet");
  else
    lines.push(
      table(
        ["KIOSK", "LAST SEEN", "VERSION", "OUTBOX", "METER", "SERIAL", "LINE", "BALANCE", "UNRESERVED"],
        kiosks.flatMap((k) => {
          const head = [k.id, ago(k.lastSeen, now), k.version, String(k.outboxPending)];
          if (k.meters.length === 0) return [[...head, "-", "-", "-", "-", "-"]];
          return k.meters.map((m) => [
            ...head,
            m.meter,
            m.serial ?? "-",
            m.connected ? "connected" : red("not connected"),
            `${m.balance} ${m.currency}`,
            String(m.unreserved),
          ]);
        }),
      ),
    );
  lines.push("");
  if (v.reservations.length === 0) lines.push("no open reservations");
  else
    lines.push(
      table(
        ["RESERVATION", "KIOSK", "METER", "AMOUNT", "STATE", "LEASE"],
        v.reservations.map((r) => [r.key, r.kiosk, r.meter, String(r.amount), r.state, leaseLeft(r, now)]),
      ),
    );
  lines.push("");
  if (v.days.length === 0) lines.push("no transactions in the ledger in these days");
  else
    lines.push(
      table(
        ["DAY (UTC)", "KIND", "COUNT", "AMOUNT"],
        v.days.map((d) => [d.day, d.kind, String(d.count), String(d.amount)]),
      ),
    );
  return lines.join("\n");
}

/** The whole answer as text; `now` is the kiosk's clock, for ages and leases. */
export function formatFleet(r: FleetResult, now: number): string {
  const parts = [formatKiosk(r.kiosk, now), ""];
  if (r.overview !== null) parts.push(formatOverview(r.overview, now));
  if (r.error !== null) {
    parts.push(red(`fleet database: ${r.error.code}: ${r.error.message}`));
    if (r.error.hint !== null) parts.push(`  ${r.error.hint}`);
  }
  return parts.join("\n");
}

export function registerFleet(program: Command, ctx: CliContext): void {
  program
    .command("fleet")
    .description(
      "the fleet: kiosks and when they were last seen, their meters' funds, the shared account, open reservations, transactions per day; and this kiosk's fleet status (admin.sock)",
    )
    .option("--days <n>", "how many days back the per-day table reaches (1 to 90)", intOption, 7)
    .addHelpText(
      "after",
      "\nThis kiosk's status (ready, outbox) comes from the daemon; everything else from the fleet's\ndatabase. When the database does not answer, this kiosk's status is still shown, with the\nerror, and the exit code is 1. Exit 12 when the daemon has no fleet configured.\n\nExamples:\n  termhost fleet\n  termhost fleet --days 30 --json | jq .overview.account",
    )
    .action((o: { days: number }) =>
      ctx.admin(async (c) => {
        const r = await c.call("admin.fleet", { days: o.days });
        ctx.print(r, () => formatFleet(r, Date.now()));
        if (r.error !== null) throw new CliExit(exitCodeFor(r.error.code as ErrorCode));
      }),
    );
}
