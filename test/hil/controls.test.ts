/**
 * The control surface a vendor's tests use, through termhost-sim's subcommands and the daemon's
 * socket only: the issuer host declining and answering late, a reader unplugged and replugged,
 * pcscd restarted, a scale loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TermhostClient } from "../../src/client/client.js";
import { type KioskProcess, startKiosk, until } from "./kiosk-process.js";

const SCENARIO = `
readers:
  - card: { kind: purse, cardId: "7465726D00000077", balance: 1000 }
    inserted: true
scales:
  - grams: 0
issuer: {}
daemon:
  config:
    value: { retryMs: 300 }
    pcsc: { retryMinMs: 50, retryMaxMs: 500 }
`;

describe("termhost-sim's controls, seen through the daemon", () => {
  let kiosk: KioskProcess;
  let client: TermhostClient;
  let reader: string;
  let n = 0;

  const card = async (): Promise<string | undefined> =>
    (await client.status()).readers.find((r) => r.name === reader)?.card;
  const cardIs = (state: string) =>
    until(`the card to be ${state}`, async () => ((await card()) === state ? true : undefined), 8000);
  const load = (amount: number) =>
    client.call("value.increase", { reader, amount, currency: "EUR", requestId: `ctl-${++n}` });

  beforeAll(async () => {
    kiosk = await startKiosk(SCENARIO);
    reader = kiosk.ready.readers[0] as string;
    client = await TermhostClient.connect({ socketPath: kiosk.ready.api });
  }, 40_000);

  afterAll(async () => {
    client?.close();
    await kiosk?.stop();
  }, 20_000);

  it("status names every part of the kiosk", async () => {
    const status = (await kiosk.sim("status")) as {
      slots: Array<{ card: string | null; inserted: boolean; plugged: boolean }>;
      scales: unknown[];
      issuer: { url: string } | null;
      daemon: { socket: string } | null;
    };
    expect(status.slots[0]).toMatchObject({ card: "purse", inserted: true, plugged: true });
    expect(status.scales).toHaveLength(1);
    expect(status.issuer?.url).toBe(kiosk.ready.issuer);
    expect(status.daemon?.socket).toBe(kiosk.ready.api);
  });

  it("the issuer host declines, answers late, then authorizes again", async () => {
    await cardIs("present");
    await kiosk.sim("issuer-behave", "--decline", "all");
    expect(await load(100)).toMatchObject({ state: "failed", error: { code: "AUTHORIZATION_DECLINED" } });
    await kiosk.sim("issuer-behave", "--delay-ms", "400");
    const started = Date.now();
    expect(await load(100)).toMatchObject({ state: "applied", balanceAfter: 1100 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(await kiosk.sim("issuer-behave")).toEqual({});
    expect(await load(50)).toMatchObject({ state: "applied", balanceAfter: 1150 });
  });

  it("an unplugged reader takes no card until it is plugged back in", async () => {
    expect(await kiosk.sim("unplug", "0")).toMatchObject({ plugged: false, inserted: false });
    await cardIs("absent");
    await expect(kiosk.sim("insert", "0")).rejects.toMatchObject({
      stderr: expect.stringContaining("READER_UNAVAILABLE"),
    });
    expect(await kiosk.sim("replug", "0")).toMatchObject({ plugged: true, inserted: true });
    await cardIs("present");
  });

  it("pcscd restarted: the card comes back and loads again", async () => {
    const before = (await kiosk.sim("status")) as { pcscd: { pid: number } };
    const system = client.events(["system"]);
    const restarted = (await kiosk.sim("restart-pcscd")) as { pid: number; reinserted: number[] };
    expect(restarted.pid).not.toBe(before.pcscd.pid);
    expect(restarted.reinserted).toEqual([0]);
    // The daemon notices pcscd went away and comes back to the new one.
    const seen: string[] = [];
    for await (const e of system) {
      if (e.type !== "event") continue;
      seen.push(String((e.data as { kind: string }).kind));
      if (seen.includes("pcsc-down") && seen.at(-1) === "pcsc-up") break;
    }
    await system.return();
    await cardIs("present");
    expect(await load(25)).toMatchObject({ state: "applied", balanceAfter: 1175 });
  }, 20_000);

  it("a load put on the scale is what the daemon weighs", async () => {
    await kiosk.sim("call", "scale.set", '{"grams":250}');
    // The daemon weighs from the scale's reports: the next one after the load carries it.
    const weight = await until(
      "the daemon to weigh 250 g",
      async () => {
        const w = await client.call("scale.read", { timeoutMs: 2000 }).catch(() => undefined);
        return Number(w?.grams) === 250 ? w : undefined;
      },
      8000,
    );
    expect(weight).toMatchObject({ status: "stable", text: expect.stringContaining("250") });
  });

  it("stopped and started again with the same state: the card keeps its balance, not the scenario's", async () => {
    client.close();
    await kiosk.stop();
    kiosk = await startKiosk(SCENARIO, () => [], kiosk.dir);
    client = await TermhostClient.connect({ socketPath: kiosk.ready.api });
    await cardIs("present");
    expect(await load(10)).toMatchObject({ state: "applied", balanceAfter: 1185 });
  }, 40_000);
});
