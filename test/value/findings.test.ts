import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { waitUntil } from "../../src/util/wait.js";
import { isOpen, type ValueTx } from "../../src/value/records.js";
import { Incarnation } from "./model/incarnation.js";
import { FaultPlan, World } from "./model/world.js";

/**
 * One test per finding of the review of the money paths ("Exactly once, for real"), on the model
 * world of model.test.ts: each failed before its fix (docs/value.md names the findings).
 */

const A = "reader-a";
const B = "reader-b";
const CARD = "c0c0c0c0c0c00001";
const OTHER = "c0c0c0c0c0c00002";

const dirs: string[] = [];
const lives: Incarnation[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const l of lives.splice(0)) await l.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function life(
  world: World,
  o: { plan?: FaultPlan; dir?: string } & Parameters<typeof Incarnation.start>[3] = {},
) {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "termhost-findings-"));
  if (o.dir === undefined) dirs.push(dir);
  const l = await Incarnation.start(world, dir, o.plan ?? new FaultPlan(), o);
  if (o.plan !== undefined) o.plan.armed = true;
  lives.push(l);
  l.engine.start();
  return { l, dir };
}

/** A plan under which the card in each of `readers` is pulled at its first CREDIT or DEBIT. */
function pullAtSend(world: World, ...readers: string[]): FaultPlan {
  const plan = new FaultPlan();
  const left = new Set(readers);
  const run = plan.run.bind(plan);
  plan.run = (name, effect, transient) => {
    const [what, where = ""] = name.split("@");
    if ((what === "card.credit" || what === "card.debit") && left.delete(where)) world.slots.set(where, null);
    return run(name, effect, transient);
  };
  return plan;
}

const closed = (l: Incarnation, requestId: string): Promise<ValueTx> =>
  waitUntil(
    `${requestId} closed`,
    () => {
      const tx = l.engine.find({ requestId });
      return tx !== undefined && !isOpen(tx) ? tx : undefined;
    },
    5_000,
    2,
  );

describe("findings of the money-path review", () => {
  it("1: a card used twice elsewhere after an interrupted load is unresolved: nothing reversed", async () => {
    const world = new World();
    world.addCard(CARD, A);
    const plan = pullAtSend(world, A);
    const { l } = await life(world, { plan });
    const open = await l.engine.increase({ reader: A, amount: 500, currency: 978, requestId: "r1" });
    expect(open.phase).toBe("authorized");
    world.useElsewhere(CARD);
    world.useElsewhere(CARD);
    world.slots.set(A, CARD);
    const tx = await closed(l, "r1");
    expect(tx.phase).toBe("unresolved");
    expect(tx.unresolved?.reason).toBe("counter-moved-on");
    expect(tx.reversal).toBeNull();
    expect(world.authorizations.map((a) => a.status)).toEqual(["issued"]);
  });

  it("1: a reversal the authorizer refuses is asked once, then flagged, not retried forever", async () => {
    const world = new World();
    world.addCard(CARD, A);
    const plan = pullAtSend(world, A, B);
    const { l } = await life(world, { plan });
    await l.engine.increase({ reader: A, amount: 500, currency: 978, requestId: "r1" });
    // The card spent our counter elsewhere (stale), and the authorizer holds ours as applied.
    world.useElsewhere(CARD);
    const auth = world.authorizations[0];
    if (auth === undefined) throw new Error("no authorization");
    auth.status = "applied";
    world.slots.set(A, CARD);
    // Another load waits for its card meanwhile: the retry timer keeps sweeping.
    world.addCard(OTHER, B);
    const other = await l.engine.increase({ reader: B, amount: 100, currency: 978, requestId: "r2" });
    expect(other.phase).toBe("authorized");
    const tx = await closed(l, "r1");
    expect(tx.phase).toBe("failed");
    expect(tx.reversal).toEqual({ authorizationId: 0, reported: false });
    await waitUntil(
      "the refusal journaled",
      () => l.engine.find({ requestId: "r1" })?.reversalRefused ?? undefined,
      2_000,
      2,
    );
    const sweeps = world.sweeps;
    await waitUntil(
      "ten more sweeps of the retry timer",
      () => (world.sweeps >= sweeps + 10 ? true : undefined),
      5_000,
      2,
    );
    expect(plan.points.filter((p) => p === "authority.reportReversal")).toHaveLength(1);
  });

  it("3: a clock set forward before a compaction forgets no request: the resend gets the same load", async () => {
    const world = new World();
    world.addCard(CARD, A);
    const first = await life(world);
    const tx = await first.l.engine.increase({ reader: A, amount: 500, currency: 978, requestId: "r1" });
    expect(tx.phase).toBe("applied");
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 400 * 86_400_000 });
    await first.l.supervisor.journal.compact();
    await first.l.stop();
    lives.splice(lives.indexOf(first.l), 1);
    const second = await life(world, { dir: first.dir });
    const again = await second.l.engine.increase({ reader: A, amount: 500, currency: 978, requestId: "r1" });
    expect(again.txId).toBe(tx.txId);
    expect(world.card(CARD).applied).toHaveLength(1);
  });

  it("3: the live ledger keeps at most its cap of closed transactions, the newest", async () => {
    const world = new World();
    world.addCard(CARD, A, 100_000);
    const { l } = await life(world, { retention: { closedMs: 86_400_000, maxClosed: 5, keepNewest: 2 } });
    for (let i = 0; i < 12; i++)
      await l.engine.debit({ reader: A, amount: 1, currency: 978, requestId: `d${i}` });
    expect(l.engine.state.txs.size).toBe(5);
    expect(l.engine.find({ requestId: "d11" })?.phase).toBe("applied");
    expect(l.engine.find({ requestId: "d6" })).toBeUndefined();
  });

  it("4: a restore record whose write failed with an unknown fate is not reversed: re-read, then credited once", async () => {
    const world = new World();
    world.addCard(CARD, A);
    // Points of a load: write requested, INITIALIZE LOAD, write authorizing, authorize, write authorized.
    const plan = Object.assign(new FaultPlan(), { at: 4, fault: "throw-after" as const });
    const { l } = await life(world, { plan });
    const told = await l.engine
      .increase({ reader: A, amount: 500, currency: 978, requestId: "r1" })
      .catch((e) => e);
    // Told it waits: the journal is being reopened, nothing is decided before it is re-read.
    expect(told).toMatchObject({ phase: "authorizing", error: { code: "JOURNAL_WRITE_FAILED" } });
    expect(plan.points[4]).toBe("journal.write");
    const tx = await closed(l, "r1");
    expect(tx.phase).toBe("applied");
    expect(world.card(CARD).applied).toHaveLength(1);
    expect(world.authorizations.map((a) => [a.status, a.reversals])).toEqual([["applied", 0]]);
  });

  it("5: one requestId sent at once to two readers makes one transaction; the other is a conflict", async () => {
    const world = new World();
    world.addCard(CARD, A);
    world.addCard(OTHER, B);
    const { l } = await life(world);
    const [a, b] = await Promise.allSettled([
      l.engine.increase({ reader: A, amount: 500, currency: 978, requestId: "same" }),
      l.engine.increase({ reader: B, amount: 500, currency: 978, requestId: "same" }),
    ]);
    expect(a.status).toBe("fulfilled");
    expect(b).toMatchObject({ status: "rejected", reason: { code: "REQUEST_CONFLICT" } });
    expect(l.engine.state.txs.size).toBe(1);
    expect(world.card(CARD).applied.length + world.card(OTHER).applied.length).toBe(1);
    // The same parameters twice at once: one transaction, both told it.
    const [c, d] = await Promise.all([
      l.engine.increase({ reader: B, amount: 300, currency: 978, requestId: "twice" }),
      l.engine.increase({ reader: B, amount: 300, currency: 978, requestId: "twice" }),
    ]);
    expect(c.txId).toBe(d.txId);
    expect(world.card(OTHER).applied).toHaveLength(1);
  });

  it("7: the daily load total counts each currency apart", async () => {
    const world = new World();
    world.addCard(CARD, A, 0, 978);
    world.addCard(OTHER, B, 0, 840);
    const { l } = await life(world, { currencies: [978, 840], limits: { dailyLoadTotal: 1_000 } });
    await expect(
      l.engine.increase({ reader: A, amount: 800, currency: 978, requestId: "eur" }),
    ).resolves.toMatchObject({
      phase: "applied",
    });
    await expect(
      l.engine.increase({ reader: B, amount: 800, currency: 840, requestId: "usd" }),
    ).resolves.toMatchObject({
      phase: "applied",
    });
    await expect(
      l.engine.increase({ reader: A, amount: 300, currency: 978, requestId: "eur2" }),
    ).rejects.toMatchObject({ code: "LIMIT_EXCEEDED", context: { today: 800, currency: 978 } });
  });

  it("10: a card that is not the one restore waits for is authenticated once, not at every sweep", async () => {
    const world = new World();
    world.addCard(CARD, A);
    world.addCard(OTHER, B);
    const plan = pullAtSend(world, A);
    const { l } = await life(world, { plan });
    const open = await l.engine.increase({ reader: A, amount: 500, currency: 978, requestId: "r1" });
    expect(open.phase).toBe("authorized");
    const sweeps = world.sweeps;
    await waitUntil(
      "ten sweeps of the retry timer",
      () => (world.sweeps >= sweeps + 10 ? true : undefined),
      5_000,
      2,
    );
    expect(plan.points.filter((p) => p === `card.identify@${B}`)).toHaveLength(1);
    // The technician writes it off: unresolved, nothing reversed.
    const off = await l.engine.writeOff(open.txId, "card reported lost");
    expect(off).toMatchObject({ phase: "unresolved", unresolved: { reason: "written-off" }, reversal: null });
    expect(world.authorizations.map((a) => a.status)).toEqual(["issued"]);
  });
});
