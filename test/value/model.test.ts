import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import type { SyncMode } from "../../src/journal/index.js";
import { waitUntil } from "../../src/util/wait.js";
import { isOpen, type ValueTx } from "../../src/value/records.js";
import { PowerLossFs } from "../support/journal/power-loss-fs.js";
import { Incarnation } from "./model/incarnation.js";
import { type Fault, FaultPlan, World } from "./model/world.js";

/**
 * The value engine as a machine over a model world (docs/value.md, "The model test"): every fault
 * at every effect point of a load and of a purchase — each call into a card, the authorizer and
 * the journal's flushes — then the card used at a second terminal or not, then restore until the
 * transaction is closed. The invariants hold in every run: value applied at most once; `applied`
 * only when the card has it; `failed` only when it does not, with any authorization reversed; an
 * authorization never reversed for a credit that landed; `unresolved` only when the card's record
 * cannot tell, and then nothing reversed.
 */

const LONG = process.env.TERMHOST_LONG === "1";
const READER = "reader-0";
const CARD = "c0c0c0c0c0c00001";
const FAULTS: Fault[] = ["throw-before", "throw-after", "crash"];

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "termhost-model-"));
  dirs.push(d);
  return d;
}

interface Run {
  kind: "load" | "debit";
  /** The journal on a disk that loses what was not synced when the daemon dies (a power cut). */
  power?: { seed: number; sync: SyncMode };
  at: number;
  fault: Fault;
  /** Transactions made on the card at another terminal between the fault and the restore. */
  elsewhere: number;
}

interface Outcome {
  points: string[];
  tx: ValueTx;
  told: ValueTx | string;
  world: World;
}

async function play(run: Run): Promise<Outcome> {
  const world = new World();
  world.addCard(CARD, READER);
  const dir = tempDir();
  const plan = Object.assign(new FaultPlan(), { at: run.at, fault: run.fault });
  let disk = run.power === undefined ? undefined : new PowerLossFs({ seed: run.power.seed, jitter: false });
  const on = (d: PowerLossFs | undefined) =>
    d === undefined || run.power === undefined ? {} : { disk: d, sync: run.power.sync };
  let life = await Incarnation.start(world, dir, plan, on(disk));
  plan.armed = true;
  life.engine.start();
  const req = { reader: READER, amount: 700, currency: 978, requestId: `r-${run.kind}` };
  let told: ValueTx | string;
  try {
    told = run.kind === "load" ? await life.engine.increase(req) : await life.engine.debit(req);
  } catch (e) {
    told = isTermhostError(e) ? e.code : String(e);
  }
  if (plan.crashed) {
    // The power goes with the daemon: what was not synced is lost, torn or kept, as a disk does.
    disk?.cutNow("the daemon died");
    await life.kill();
    disk = disk?.reboot({ seed: (run.power?.seed ?? 0) + 1, jitter: false });
    for (let i = 0; i < run.elsewhere; i++) world.useElsewhere(CARD);
    life = await Incarnation.start(world, dir, new FaultPlan(), on(disk));
    life.engine.start();
  } else {
    for (let i = 0; i < run.elsewhere; i++) world.useElsewhere(CARD);
  }
  try {
    // A client that was told nothing final resends its request, as a kiosk does.
    const settled = await waitUntil(
      `the ${run.kind} to close with nothing left to report (${JSON.stringify(run)})`,
      async () => {
        const tx = life.engine.find({ requestId: req.requestId });
        if (tx === undefined) {
          if (typeof told === "string") {
            try {
              told = run.kind === "load" ? await life.engine.increase(req) : await life.engine.debit(req);
            } catch (e) {
              told = isTermhostError(e) ? e.code : String(e);
            }
          }
          return undefined;
        }
        if (isOpen(tx) || life.engine.state.unreported.size > 0) return undefined;
        return tx;
      },
      5_000,
      2,
    );
    return { points: plan.points, tx: settled, told, world };
  } finally {
    await life.stop();
  }
}

/** The invariants of docs/value.md, checked against the world's own records. */
function check(run: Run, o: Outcome): void {
  const card = o.world.card(CARD);
  const ours = card.applied.filter((a) => a.by === "us");
  const where = JSON.stringify({ ...run, points: o.points.slice(0, run.at + 1) });
  expect(ours.length, `applied at most once: ${where}`).toBeLessThanOrEqual(1);
  const auths = o.world.authorizations;
  for (const a of auths) {
    expect(a.reversals, `reported at most once: ${where}`).toBeLessThanOrEqual(1);
    if (ours.length === 1 && a.counter === ours[0]?.counter)
      expect(a.status, `a landed credit's authorization is never reversed: ${where}`).not.toBe("reversed");
  }
  switch (o.tx.phase) {
    case "applied":
      expect(ours.length, `applied means on the card: ${where}`).toBe(1);
      if (run.kind === "load")
        expect(
          auths.find((a) => a.status === "applied"),
          where,
        ).toBeDefined();
      break;
    case "failed":
      expect(ours.length, `failed means not on the card: ${where}`).toBe(0);
      for (const a of auths)
        expect(a.status, `failed: every authorization reversed: ${where}`).toBe("reversed");
      break;
    case "unresolved":
      // Ours (if it landed) and the second terminal's: two or more past our counter.
      expect(
        card.applied.length,
        `only a card that moved on leaves it unresolved: ${where}`,
      ).toBeGreaterThanOrEqual(2);
      for (const a of auths) expect(a.status, `unresolved: nothing reversed: ${where}`).not.toBe("reversed");
      break;
    default:
      throw new Error(`not closed: ${o.tx.phase}`);
  }
  if (typeof o.told !== "string" && !isOpen(o.told))
    expect(o.tx.phase, `the client was told ${o.told.phase}: ${where}`).toBe(o.told.phase);
}

describe("value engine model: every fault at every effect", () => {
  for (const kind of ["load", "debit"] as const) {
    it(`${kind}: each effect point with each fault, then restore, keeps the invariants`, async () => {
      const clean = await play({ kind, at: -1, fault: "throw-before", elsewhere: 0 });
      expect(clean.tx.phase).toBe("applied");
      const points = clean.points.length;
      expect(points).toBeGreaterThanOrEqual(kind === "load" ? 7 : 4);
      const elsewheres = LONG ? [0, 1, 2, 3] : [0, 2];
      let runs = 0;
      const phases: Record<string, number> = {};
      for (let at = 0; at < points; at++)
        for (const fault of FAULTS)
          for (const elsewhere of elsewheres) {
            const run = { kind, at, fault, elsewhere };
            const o = await play(run);
            check(run, o);
            runs++;
            phases[o.tx.phase] = (phases[o.tx.phase] ?? 0) + 1;
          }
      expect(runs).toBe(points * FAULTS.length * elsewheres.length);
      // Every outcome is reached somewhere: the runs exercise each branch, not only the happy one.
      expect(Object.keys(phases).sort()).toEqual(["applied", "failed", "unresolved"]);
      console.log(`model ${kind}: ${points} effect points, ${runs} runs, outcomes ${JSON.stringify(phases)}`);
    }, 120_000);
  }
});

describe("value engine model on a disk that loses power with the daemon", () => {
  for (const sync of ["dsync", "fdatasync"] as const) {
    it(`load and purchase, journal synced by ${sync}: every fault at every effect, a power cut at each crash`, async () => {
      let runs = 0;
      for (const kind of ["load", "debit"] as const) {
        const clean = await play({
          kind,
          at: -1,
          fault: "throw-before",
          elsewhere: 0,
          power: { seed: 1, sync },
        });
        expect(clean.tx.phase).toBe("applied");
        for (let at = 0; at < clean.points.length; at++)
          for (const fault of FAULTS)
            for (const elsewhere of LONG ? [0, 1, 2, 3] : [0, 2]) {
              const run = { kind, at, fault, elsewhere, power: { seed: 1000 * at + runs, sync } };
              check(run, await play(run));
              runs++;
            }
      }
      expect(runs).toBeGreaterThan(60);
      console.log(`model on a power-loss disk (${sync}): ${runs} runs`);
    }, 120_000);
  }
});
