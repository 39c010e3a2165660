import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import type { ValueTransaction } from "../../src/api/schemas/value.js";
import type { TermhostClient } from "../../src/client/client.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { cardFile, purseSpec, samLedger, samSpec } from "./support.js";

const CARD = "0a0b0c0d0e0f1011";
const FORGED = "2222222222222222";

describe("value.increase through real pcscd: authenticate, authorize, journal, credit, verify", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let client: TermhostClient;
  let dir: string;
  let reader: string;
  let forgedReader: string;
  let seq = 0;
  const rid = (): string => `t-${process.pid}-${++seq}`;

  const status = async (requestId: string): Promise<ValueTransaction> =>
    client.call("value.status", { requestId }) as Promise<ValueTransaction>;

  async function settled(requestId: string): Promise<ValueTransaction> {
    return waitUntil(
      "the transaction to settle",
      async () => {
        const s = await status(requestId);
        return s.state === "applied" || s.state === "failed" ? s : undefined;
      },
      10_000,
      50,
    );
  }

  /** The torn card is out of the reader: once pcscd has seen it gone, put it back and wait for restore. */
  async function reinsertAndSettle(requestId: string): Promise<ValueTransaction> {
    await waitUntil(
      "the reader to see the card gone",
      async () =>
        (await client.status()).readers.find((r) => r.name === reader)?.card === "absent" ? true : undefined,
      5000,
    );
    await rig.insert(0);
    return settled(requestId);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "termhost-value-"));
    rig = await Rig.start({
      readerEntries: 2,
      slots: [
        { card: purseSpec(dir, CARD), inserted: true },
        { card: samSpec(dir), inserted: true },
        // A card whose key is not diversified from the issuer's master key.
        { card: purseSpec(dir, FORGED, { masterKey: "00112233445566778899aabbccddeeff" }), inserted: true },
        { card: null },
      ],
    });
    [reader, , forgedReader] = rig.readerNames as [string, string, string];
    daemon = await startDaemon(rig);
    client = await daemon.client();
    await waitUntil(
      "three cards present",
      async () =>
        (await client.status()).readers.filter((r) => r.card === "present").length === 3 ? true : undefined,
      10_000,
    );
  });
  afterAll(async () => {
    client?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("loads a card once, and the same requestId returns the same transaction", async () => {
    const before = cardFile(dir, CARD);
    const requestId = rid();
    const tx = await client.call("value.increase", { reader, amount: 1250, currency: "EUR", requestId });
    expect(tx).toMatchObject({
      state: "applied",
      amount: 1250,
      currency: "EUR",
      cardId: CARD,
      restored: null,
    });
    expect(tx.balanceAfter).toBe(before.balance + 1250);
    expect(cardFile(dir, CARD)).toMatchObject({
      balance: before.balance + 1250,
      counter: before.counter + 1,
    });
    const again = await client.call("value.increase", { reader, amount: 1250, currency: "EUR", requestId });
    expect(again.txId).toBe(tx.txId);
    expect(cardFile(dir, CARD).balance).toBe(before.balance + 1250);
    const entries = samLedger(dir).filter((e) => e.cardId === CARD);
    expect(entries.at(-1)).toMatchObject({ status: "applied", amount: 1250, counter: before.counter });
    await expect(
      client.call("value.increase", { reader, amount: 999, currency: "EUR", requestId }),
    ).rejects.toMatchObject({ code: "REQUEST_CONFLICT" });
  });

  it("refuses over-limit loads and unknown currencies before touching the card", async () => {
    const before = cardFile(dir, CARD);
    await expect(
      client.call("value.increase", { reader, amount: 60_000, currency: "EUR", requestId: rid() }),
    ).rejects.toMatchObject({ code: "LIMIT_EXCEEDED" });
    await expect(
      client.call("value.increase", { reader, amount: 100, currency: "USD", requestId: rid() }),
    ).rejects.toMatchObject({ code: "VALUE_REFUSED" });
    await expect(
      client.call("value.increase", { reader, amount: -5, currency: "EUR", requestId: rid() }),
    ).rejects.toMatchObject({ code: "INVALID_PARAMS" });
    expect(cardFile(dir, CARD)).toEqual(expect.objectContaining(before));
  });

  it("refuses a card authenticated with the wrong key; nothing is credited or authorized", async () => {
    const before = cardFile(dir, FORGED);
    const ledgerBefore = samLedger(dir).length;
    const tx = await client.call("value.increase", {
      reader: forgedReader,
      amount: 500,
      currency: "EUR",
      requestId: rid(),
    });
    expect(tx).toMatchObject({ state: "failed", error: { code: "CARD_NOT_AUTHENTIC" }, reversal: null });
    expect(cardFile(dir, FORGED)).toEqual(expect.objectContaining(before));
    expect(samLedger(dir)).toHaveLength(ledgerBefore);
  });

  it("a card torn after it committed the credit is restored as applied on re-insertion, once", async () => {
    const before = cardFile(dir, CARD);
    await rig.control.call("card.tear", {
      slot: 0,
      fault: { command: "CREDIT", when: "after-commit-before-response" },
    });
    const requestId = rid();
    const tx = await client.call("value.increase", { reader, amount: 700, currency: "EUR", requestId });
    expect(tx).toMatchObject({ state: "restoring", phase: "authorized", error: { code: "CARD_REMOVED" } });
    expect(cardFile(dir, CARD).balance).toBe(before.balance + 700);
    const done = await reinsertAndSettle(requestId);
    expect(done).toMatchObject({
      restored: "already-applied",
      balanceAfter: before.balance + 700,
      error: null,
    });
    expect(cardFile(dir, CARD)).toMatchObject({ balance: before.balance + 700, counter: before.counter + 1 });
    expect(
      samLedger(dir)
        .filter((e) => e.cardId === CARD)
        .at(-1),
    ).toMatchObject({ status: "applied", amount: 700 });
  });

  it("a card torn before it committed gets the stored CREDIT again on re-insertion, once", async () => {
    const before = cardFile(dir, CARD);
    await rig.control.call("card.tear", { slot: 0, fault: { command: "CREDIT", when: "before-commit" } });
    const requestId = rid();
    const tx = await client.call("value.increase", { reader, amount: 300, currency: "EUR", requestId });
    expect(tx.state).toBe("restoring");
    expect(cardFile(dir, CARD).balance).toBe(before.balance);
    const done = await reinsertAndSettle(requestId);
    expect(done.restored).toBe("resent");
    expect(cardFile(dir, CARD)).toMatchObject({ balance: before.balance + 300, counter: before.counter + 1 });
  });

  it("debits a card once per requestId", async () => {
    const before = cardFile(dir, CARD);
    const requestId = rid();
    const tx = await client.call("value.debit", { reader, amount: 150, currency: "EUR", requestId });
    expect(tx).toMatchObject({ state: "applied", kind: "debit", balanceAfter: before.balance - 150 });
    await client.call("value.debit", { reader, amount: 150, currency: "EUR", requestId });
    expect(cardFile(dir, CARD).balance).toBe(before.balance - 150);
    const tooMuch = await client.call("value.debit", {
      reader,
      amount: 40_000,
      currency: "EUR",
      requestId: rid(),
    });
    expect(tooMuch).toMatchObject({ state: "failed", error: { code: "VALUE_REFUSED" } });
  });

  it.each([
    ["a bare 9000 to CREDIT", "CREDIT", "bare-success", "APDU_MALFORMED"],
    ["a CREDIT answer whose S3 does not verify", "CREDIT", "bad-mac", "CARD_NOT_AUTHENTIC"],
    ["a CREDIT answer replaying the previous S3", "CREDIT", "replayed-proof", "CARD_NOT_AUTHENTIC"],
  ])(
    "refuses %s from a counterfeit card: nothing credited, authorization reversed",
    async (_what, forge, answer, code) => {
      const before = cardFile(dir, CARD);
      // Armed twice: the first answer, and the answer to the stored message sent again on restore.
      await rig.control.call("card.tear", { slot: 0, fault: { forge, answer } });
      await rig.control.call("card.tear", { slot: 0, fault: { forge, answer } });
      const requestId = rid();
      const first = await client.call("value.increase", { reader, amount: 400, currency: "EUR", requestId });
      expect(first.state).not.toBe("applied");
      const done = await settled(requestId);
      expect(done).toMatchObject({ state: "failed", error: { code } });
      expect(done.reversal).toMatchObject({ reported: true });
      expect(cardFile(dir, CARD)).toEqual(expect.objectContaining(before));
      const entry = samLedger(dir).find((e) => e.authorizationId === done.reversal?.authorizationId);
      expect(entry).toMatchObject({ status: "reversed", amount: 400 });
    },
  );

  it.each([
    ["AUTHENTICATE", "CARD_NOT_AUTHENTIC"],
    ["INITIALIZE LOAD", "CARD_NOT_AUTHENTIC"],
  ])("refuses a forged MAC in %s before any authorization is issued", async (forge, code) => {
    const before = cardFile(dir, CARD);
    const ledgerBefore = samLedger(dir).length;
    await rig.control.call("card.tear", { slot: 0, fault: { forge, answer: "bad-mac" } });
    const tx = await client.call("value.increase", {
      reader,
      amount: 450,
      currency: "EUR",
      requestId: rid(),
    });
    expect(tx).toMatchObject({ state: "failed", error: { code }, reversal: null });
    expect(cardFile(dir, CARD)).toEqual(expect.objectContaining(before));
    expect(samLedger(dir)).toHaveLength(ledgerBefore);
  });
});
