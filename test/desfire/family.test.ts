import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { DesfireCard, type DesfireCardOptions } from "../../simulators/cards/desfire/desfire-card.js";
import { SamCard } from "../../simulators/cards/sam/sam-card.js";
import { SamAuthorizer } from "../../src/authorize/sam.js";
import { desfireCardId } from "../../src/desfire/family/card-id.js";
import { DesfireFamily } from "../../src/desfire/family/desfire-family.js";
import { desfireMasterKeys } from "../../src/desfire/family/keys.js";
import { desfireCardOps } from "../../src/desfire/family/session-ops.js";
import { decodeLogRecord } from "../../src/desfire/protocol/index.js";
import { isTermhostError } from "../../src/errors/errors.js";
import type { CardChannel } from "../../src/pcsc/reader-manager.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/well-known-keys.js";
import type { Grant, TargetFacts } from "../../src/value/devices.js";
import type { ValueTx } from "../../src/value/records.js";

const SAM_KEY = Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex");
const UID = Buffer.from("04A1B2C3D4E5F6", "hex");
const CARD_ID = desfireCardId(UID).toString("hex");
const TERMINAL = Buffer.from("5445524D30303031", "hex");
const EUR = 978;

const channelTo = (card: { transmit(a: Buffer): Buffer | Promise<Buffer> }, reader: string): CardChannel => ({
  reader,
  protocol: 2,
  transmit: async (apdu) => card.transmit(apdu),
});

function blankTx(kind: "load" | "debit", amount: number): ValueTx {
  return {
    txId: `vtx-${kind}-${amount}`,
    requestId: `r-${amount}`,
    kind,
    reader: "card",
    amount,
    currency: EUR,
    phase: "requested",
    cardId: null,
    counter: null,
    balanceBefore: null,
    authorizerRef: null,
    authorizationId: null,
    message: null,
    balanceAfter: null,
    proof: null,
    restored: null,
    error: null,
    reversal: null,
    reversalRefused: null,
    unresolved: null,
    createdAt: "2026-12-02T00:00:00.000Z",
    updatedAt: "2026-12-02T00:00:00.000Z",
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return isTermhostError(e) ? e.code : `untyped: ${String(e)}`;
  }
}

describe("DESFire cards as a card family of the value engine: the SAM authenticates and authorizes", () => {
  let dir: string;
  let sam: SamCard;
  let family: DesfireFamily;

  const makeCard = (o: Partial<DesfireCardOptions> = {}): DesfireCard => {
    const c = new DesfireCard({
      uid: UID,
      masterKeys: desfireMasterKeys(SAM_KEY),
      statePath: join(dir, `desfire-${Math.random()}.json`),
      initial: { balance: 1000, upperLimit: 100_000 },
      ...o,
    });
    c.powerOn();
    return c;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "desfire-family-"));
    sam = new SamCard({ masterKey: SAM_KEY, ledgerPath: join(dir, "sam-ledger.json") });
    sam.powerOn();
    const authorizer = new SamAuthorizer({
      reader: () => "sam",
      withCard: (reader, fn) => fn(channelTo(sam, reader)),
    });
    family = new DesfireFamily({
      authorizer,
      terminalId: TERMINAL,
      currency: EUR,
      maxBalance: 1_000_000,
      ops: desfireCardOps,
    });
  });

  /** The engine's part: what `authorize` journals becomes the transaction that `send` gets. */
  async function authorized(card: DesfireCard, amount: number): Promise<ValueTx> {
    const tx = blankTx("load", amount);
    let facts: TargetFacts | undefined;
    let grant: Grant | undefined;
    await family.target(channelTo(card, "card")).authorize(
      tx,
      {},
      {
        authorizing: async (f) => {
          facts = f;
        },
        authorized: async (g) => {
          grant = g;
        },
      },
    );
    if (facts === undefined || grant === undefined) throw new Error("authorize did not call its steps");
    return {
      ...tx,
      phase: "authorized",
      cardId: facts.targetId,
      counter: facts.counter,
      balanceBefore: facts.balanceBefore,
      authorizationId: grant.authorizationId,
      message: grant.message,
    };
  }

  it("claims DESFire cards by their ATR and leaves the purse (another ISO 14443-4 ATR) to its family", () => {
    expect(family.claims("3B8180018080")).toBe(true);
    expect(family.claims("3B8C800180575448505552534582900095")).toBe(false);
    expect(family.claims(null)).toBe(false);
  });

  it("loads: the credit and its log entry land together, and the SAM records the authorization applied", async () => {
    const card = makeCard();
    const tx = await authorized(card, 250);
    expect(tx.cardId).toBe(CARD_ID);
    expect(tx.counter).toBe(0);
    expect(sam.entries.map((e) => e.status)).toEqual(["issued"]);
    const done = await family.target(channelTo(card, "card")).send(tx);
    expect(done.balanceAfter).toBe(1250);
    expect(card.snapshot.balance).toBe(1250);
    const log = card.snapshot.records.map(decodeLogRecord);
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ seq: 1, kind: "credit", amount: 250, balanceAfter: 1250, currency: EUR });
    expect(sam.entries.map((e) => e.status)).toEqual(["applied"]);
    // Restore on re-insertion reads the log and finds the load applied; nothing is sent twice.
    const d = await family.target(channelTo(card, "card")).inspect(tx);
    expect(d).toEqual({ kind: "applied", completion: { balanceAfter: 1250, proof: done.proof } });
  });

  it("a tear before commit leaves nothing on the card: restore resends the stored credit once", async () => {
    const card = makeCard();
    const tx = await authorized(card, 300);
    card.armFault({ tear: "before-commit" });
    expect(await codeOf(family.target(channelTo(card, "card")).send(tx))).not.toBe("resolved");
    card.powerOff();
    card.powerOn();
    expect(card.snapshot.balance).toBe(1000);
    expect(await family.target(channelTo(card, "card")).inspect(tx)).toEqual({ kind: "resend" });
    expect((await family.target(channelTo(card, "card")).send(tx)).balanceAfter).toBe(1300);
    expect(card.snapshot.records).toHaveLength(1);
  });

  it("an answer to CommitTransaction that never came: the log shows the credit applied", async () => {
    const card = makeCard();
    const tx = await authorized(card, 400);
    card.armFault({ tear: "after-commit" });
    expect(await codeOf(family.target(channelTo(card, "card")).send(tx))).not.toBe("resolved");
    card.powerOff();
    card.powerOn();
    expect(card.snapshot.balance).toBe(1400);
    expect(await family.target(channelTo(card, "card")).inspect(tx)).toMatchObject({
      kind: "applied",
      completion: { balanceAfter: 1400 },
    });
    expect(sam.entries.map((e) => e.status)).toEqual(["applied"]);
  });

  /** The engine's part of a debit: `prepareDebit` journals the message, `send` gets it. */
  async function debiting(card: DesfireCard, amount: number): Promise<ValueTx> {
    const tx = blankTx("debit", amount);
    let out: ValueTx | undefined;
    await family.target(channelTo(card, "card")).prepareDebit(tx, {
      debiting: async (f, message) => {
        out = { ...tx, phase: "debiting", cardId: f.targetId, balanceBefore: f.balanceBefore, message };
      },
    });
    if (out === undefined) throw new Error("prepareDebit did not journal");
    return out;
  }

  it("a card moved on by another transaction before our resend: ours can never land (stale)", async () => {
    const card = makeCard();
    const tx = await authorized(card, 500);
    // A purchase lands first, at the place in the log the credit was authorized for.
    const purchase = await debiting(card, 7);
    await family.target(channelTo(card, "card")).send(purchase);
    expect(await family.target(channelTo(card, "card")).inspect(tx)).toMatchObject({ kind: "stale" });
    expect(await codeOf(family.target(channelTo(card, "card")).send(tx))).toBe("CARD_MISMATCH");
    expect(card.snapshot.balance).toBe(993);
  });

  it("debits: the value and the log entry, found again by restore", async () => {
    const card = makeCard();
    const tx = await debiting(card, 120);
    expect((await family.target(channelTo(card, "card")).send(tx)).balanceAfter).toBe(880);
    expect(await family.target(channelTo(card, "card")).inspect(tx)).toMatchObject({ kind: "applied" });
    expect(await codeOf(debiting(card, 5000))).toBe("VALUE_REFUSED");
  });

  it("refuses before any authorization: a load past the value file's upper limit, another currency", async () => {
    const card = makeCard({ initial: { balance: 99_900, upperLimit: 100_000 } });
    expect(await codeOf(authorized(card, 200))).toBe("LIMIT_EXCEEDED");
    expect(await codeOf(authorized(makeCard(), 0).catch(() => Promise.reject(new Error("x"))))).not.toBe(
      "resolved",
    );
    const usd = { ...blankTx("load", 10), currency: 840 };
    expect(
      await codeOf(
        family
          .target(channelTo(card, "card"))
          .authorize(usd, {}, { authorizing: async () => {}, authorized: async () => {} }),
      ),
    ).toBe("VALUE_REFUSED");
    expect(sam.entries).toEqual([]);
  });

  it("a card whose keys are not diversified for its UID fails authentication: nothing authorized", async () => {
    const card = makeCard({ diversifyForUid: Buffer.from("04000000000001", "hex") });
    expect(await codeOf(authorized(card, 100))).toBe("CARD_NOT_AUTHENTIC");
    expect(sam.entries).toEqual([]);
    expect(card.snapshot.balance).toBe(1000);
  });

  it("counterfeit answers to the commit are refused with typed errors and never count as applied", async () => {
    for (const answer of ["missing-mac", "wrong-mac", "replayed-answer", "wrong-ti"] as const) {
      const card = makeCard();
      const tx = await authorized(card, 50);
      card.armFault({ forge: "CommitTransaction", answer });
      const code = await codeOf(family.target(channelTo(card, "card")).send(tx));
      expect([answer, code]).toEqual([answer, "CARD_NOT_AUTHENTIC"]);
      // The counterfeit did not carry the commit out; the SAM still holds the authorization open.
      expect(card.snapshot.balance).toBe(1000);
      expect(sam.entries.at(-1)?.status).toBe("issued");
    }
  });
});
