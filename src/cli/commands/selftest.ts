import type { Command } from "commander";
import type { AdminClient } from "../../client/client.js";
import { isTermhostError } from "../../errors/errors.js";
import { green, red, yellow } from "../colour.js";
import { type CliContext, CliExit } from "../context.js";
import { Exit } from "../exit-codes.js";
import { readCardInfo } from "./card.js";
import { daemonMeters } from "./meter.js";
import { amountOption, newRequestId } from "./options.js";

export interface Check {
  name: string;
  status: "pass" | "fail" | "skip";
  detail: string;
}

interface SelftestOptions {
  load?: number;
  batch?: number;
}

const describe = (e: unknown): string => (isTermhostError(e) ? `${e.code}: ${e.message}` : String(e));

async function runChecks(c: AdminClient, o: SelftestOptions): Promise<Check[]> {
  const checks: Check[] = [];
  const check = async (name: string, fn: () => Promise<string | { skip: string }>): Promise<boolean> => {
    try {
      const r = await fn();
      checks.push(
        typeof r === "string"
          ? { name, status: "pass", detail: r }
          : { name, status: "skip", detail: r.skip },
      );
      return typeof r === "string";
    } catch (e) {
      // Without a daemon there is nothing to test: that is the command's error, not a check's.
      if (isTermhostError(e, "DAEMON_UNREACHABLE")) throw e;
      checks.push({ name, status: "fail", detail: describe(e) });
      return false;
    }
  };
  const status = await c.status();
  await check("daemon", async () => `termhostd ${status.version}, pid ${status.pid}`);
  await check("pc/sc", async () => {
    if (status.pcsc.state !== "up")
      throw new Error(`PC/SC is ${status.pcsc.state}${status.pcsc.error ? `: ${status.pcsc.error}` : ""}`);
    return "up";
  });
  await check("readers", async () => {
    if (status.readers.length === 0) throw new Error("no readers");
    return status.readers.map((r) => r.name).join(", ");
  });
  const purse = status.readers.find((r) => r.card === "present" && r.cardProfile === "termhost purse");
  const cardOk = await check("purse card", async () => {
    if (purse === undefined) throw new Error("no purse card in any reader");
    const info = await readCardInfo(c, purse.name);
    return `${info.cardId} in ${purse.name}: balance ${info.balance} ${info.currency}, counter ${info.counter}`;
  });
  const meters = await daemonMeters(c);
  let meterReady: { meter: string; currency: string } | undefined;
  await check("postage meter", async () => {
    if (meters.length === 0) return { skip: "no meters configured" };
    const all = await Promise.all(meters.map((m) => c.call("postage.balance", { meter: m })));
    const down = all.filter((b) => !b.connected);
    if (down.length > 0) throw new Error(`not connected: ${down.map((b) => b.meter).join(", ")}`);
    const first = all[0];
    if (first !== undefined) meterReady = { meter: first.meter, currency: first.currency };
    return all.map((b) => `${b.meter}: ${b.unreserved} ${b.currency} unreserved`).join("; ");
  });
  if (o.load !== undefined) {
    const amount = o.load;
    await check("value load", async () => {
      if (!cardOk || purse === undefined) return { skip: "no purse card" };
      const tx = await c.call("value.increase", {
        reader: purse.name,
        amount,
        currency: "EUR",
        requestId: newRequestId("selftest"),
      });
      if (tx.state !== "applied")
        throw new Error(`${tx.txId} ended ${tx.state}${tx.error ? ` (${tx.error.code})` : ""}`);
      return `${tx.txId}: ${amount} loaded, balance ${tx.balanceAfter}`;
    });
  }
  if (o.batch !== undefined) {
    const amount = o.batch;
    await check("postage batch", async () => {
      if (meterReady === undefined) return { skip: "no connected meter" };
      const ready = meterReady;
      const started = await c.call("postage.batch.start", {
        meter: ready.meter,
        pieces: [{ amount, currency: ready.currency, class: 1, origin: "00000" }],
        requestId: newRequestId("selftest"),
      });
      const b = await c.call("postage.batch.status", { batchId: started.batchId, waitMs: 30_000 }, 40_000);
      if (b.state !== "completed")
        throw new Error(`${b.batchId} ended ${b.state}${b.reason ? `: ${b.reason}` : ""}`);
      return `${b.batchId}: 1 indicium of ${amount} ${b.currency}`;
    });
  }
  return checks;
}

export function registerSelftest(program: Command, ctx: CliContext): void {
  program
    .command("selftest")
    .description(
      "check the kiosk end to end: daemon, PC/SC, readers, purse card (GET BALANCE), postage meters; optionally a load and a batch",
    )
    .option(
      "--load <minor>",
      "also load this much onto the purse card (simulators or a test card only)",
      amountOption,
    )
    .option(
      "--batch <minor>",
      "also print one indicium of this value (simulators or a test meter only)",
      amountOption,
    )
    .addHelpText(
      "after",
      "\nUses admin.sock. Exit 0 when every check passes (skipped ones included), 14 when one fails.\n\nExamples:\n  termhost selftest\n  termhost --json selftest --load 100 --batch 85",
    )
    .action((o: SelftestOptions) =>
      ctx.admin(async (c) => {
        const checks = await runChecks(c, o);
        ctx.print({ ok: checks.every((x) => x.status !== "fail"), checks }, () =>
          checks
            .map((x) => {
              const mark =
                x.status === "pass" ? green("PASS") : x.status === "fail" ? red("FAIL") : yellow("SKIP");
              return `${mark}  ${x.name.padEnd(14)} ${x.detail}`;
            })
            .join("\n"),
        );
        if (checks.some((x) => x.status === "fail")) throw new CliExit(Exit.CHECK_FAILED);
      }),
    );
}
