import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import type { CardSpec } from "../../simulators/scenario.js";
import { waitUntil } from "../../src/util/wait.js";
import { withRawCards } from "../support/pcsc-raw.js";
import { type PendingCredit, ReferenceTerminal } from "./support/terminal.js";

const TERMINAL = Buffer.from("5445524D30303031", "hex");
const EUR = 978;

describe("purse card and SAM through real pcscd and vpcd", () => {
  let rig: Rig;
  let dir: string;
  let readers: string[];

  const purseFile = () =>
    JSON.parse(readFileSync(join(dir, "purse.json"), "utf8")) as { balance: number; counter: number };
  const ledger = () =>
    (
      JSON.parse(readFileSync(join(dir, "ledger.json"), "utf8")) as {
        authorizations: Array<{ status: string; amount: number }>;
      }
    ).authorizations;
  const withTerminal = <T>(fn: (t: ReferenceTerminal) => Promise<T>): Promise<T> =>
    withRawCards(rig.pcscSocket, readers, ([card, sam]) => {
      if (card === undefined || sam === undefined) throw new Error("two readers expected");
      return fn(new ReferenceTerminal(card, sam, TERMINAL));
    });

  /** pcscd must see the torn card gone before it comes back, as with a card pulled and re-inserted. */
  const cardPulledAndBack = async (): Promise<void> => {
    await waitUntil(
      "the simulator to drop the torn card",
      async () => ((await rig.simStatus()).slots[0]?.inserted ? undefined : true),
      5000,
    );
    await rig.waitForCard(0, false);
    // Resolves once pcscd reports the card present again.
    await rig.insert(0);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "purse-on-pcscd-"));
    const purse: CardSpec = {
      kind: "purse",
      cardId: "0102030405060708",
      currency: EUR,
      balance: 10_000,
      counter: 5,
      maxBalance: 100_000,
      statePath: join(dir, "purse.json"),
    };
    const sam: CardSpec = { kind: "sam", ledgerPath: join(dir, "ledger.json") };
    rig = await Rig.start({
      slots: [
        { card: purse, inserted: true },
        { card: sam, inserted: true },
      ],
    });
    readers = rig.readerNames.slice(0, 2);
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it("authenticate → INITIALIZE LOAD → SAM issues S2 → CREDIT → SAM verifies S3", async () => {
    const { pending, credit, resent } = await withTerminal(async (t) => {
      const loaded = await t.load(1500, EUR);
      return { ...loaded, resent: await t.credit(loaded.pending) };
    });
    expect(pending.command.counter).toBe(5);
    expect(credit).toMatchObject({ counter: 5, balanceAfter: 11_500 });
    expect(resent).toEqual(credit);
    expect(purseFile()).toMatchObject({ balance: 11_500, counter: 6 });
    expect(ledger()).toMatchObject([{ status: "applied", amount: 1500 }]);
  });

  it("a CREDIT torn after commit drops the card; re-inserted, its counter and last transaction prove the load", async () => {
    await rig.control.call("card.tear", {
      slot: 0,
      fault: { command: "CREDIT", when: "after-commit-before-response" },
    });
    let pending: PendingCredit | undefined;
    const failure = await withTerminal(async (t) => {
      await t.select();
      await t.authenticate();
      pending = await t.authorize(2000, await t.initializeLoad(2000, EUR));
      return t.credit(pending).then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    expect(failure).toBeInstanceOf(Error);
    await cardPulledAndBack();
    expect(purseFile()).toMatchObject({ balance: 13_500, counter: 7 });

    const p = pending as PendingCredit;
    const after = await withTerminal(async (t) => {
      await t.select();
      const auth = await t.authenticate();
      const { last } = await t.readLastTransaction();
      if (last === null) throw new Error("the card shows no last transaction");
      await t.verifyCompletion(p.authorizationId, last.balanceAfter, last.proof);
      return { counter: auth.counter, last, resent: await t.credit(p) };
    });
    expect(after.counter).toBe(p.command.counter + 1);
    expect(after.last).toMatchObject({
      type: "credit",
      counter: 6,
      amount: 2000,
      balanceAfter: 13_500,
      s2: p.command.s2,
    });
    expect(after.resent).toMatchObject({ counter: 6, balanceAfter: 13_500, s3: after.last.proof });
    expect(purseFile()).toMatchObject({ balance: 13_500, counter: 7 });
    expect(ledger().map((a) => a.status)).toEqual(["applied", "applied"]);
  });

  it("a CREDIT torn before commit leaves the counter; the stored CREDIT resent lands once", async () => {
    await rig.control.call("card.tear", { slot: 0, fault: { command: "CREDIT", when: "before-commit" } });
    let pending: PendingCredit | undefined;
    await withTerminal(async (t) => {
      await t.select();
      await t.authenticate();
      pending = await t.authorize(500, await t.initializeLoad(500, EUR));
      await expect(t.credit(pending)).rejects.toBeInstanceOf(Error);
    });
    await cardPulledAndBack();
    expect(purseFile()).toMatchObject({ balance: 13_500, counter: 7 });

    const p = pending as PendingCredit;
    const credit = await withTerminal(async (t) => {
      await t.select();
      expect((await t.authenticate()).counter).toBe(p.command.counter);
      const c = await t.credit(p);
      await t.verifyCompletion(p.authorizationId, c.balanceAfter, c.s3);
      return c;
    });
    expect(credit).toMatchObject({ counter: 7, balanceAfter: 14_000 });
    expect(purseFile()).toMatchObject({ balance: 14_000, counter: 8 });
    expect(ledger().map((a) => a.status)).toEqual(["applied", "applied", "applied"]);
  });
});
