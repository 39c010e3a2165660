import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { PurseCard } from "../../simulators/cards/purse/purse-card.js";
import type { Authorizer } from "../../src/authorize/authorizer.js";
import { CardDevices } from "../../src/cards/card-devices.js";
import { type Journal, openJournal } from "../../src/journal/index.js";
import type { ReaderManager } from "../../src/pcsc/reader-manager.js";
import { authorityOf, PurseFamily } from "../../src/purse/engine/purse-family.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/well-known-keys.js";
import { ValueEngine } from "../../src/value/engine.js";
import {
  emptyValueState,
  reduceValue,
  type ValueRecords,
  type ValueState,
  ValueRecords as valueRecordTypes,
  valueSnapshot,
} from "../../src/value/records.js";
import { transmitTo } from "./support/terminal.js";

/**
 * The currency a card answers in INITIALIZE LOAD is the one its value is kept in: a load asked for
 * in another must not be authorized. The card here keeps USD; the terminal asks for EUR, and the
 * reader's path rewrites the currency of INITIALIZE LOAD, as a card that ignores the field would.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const READER = "Virtual PCD 00 00";
const EUR = [0x09, 0x78];
const USD = [0x08, 0x40];

describe("a card that answers in another currency", () => {
  it("is refused before any authorization is asked for", async () => {
    const dir = mkdtempSync(join(tmpdir(), "termhost-currency-"));
    dirs.push(dir);
    const card = new PurseCard({
      masterKey: Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex"),
      statePath: join(dir, "card.json"),
      initial: {
        cardId: Buffer.from("c0c0c0c0c0c00009", "hex"),
        currency: 840,
        maxBalance: 100_000,
        balance: 0,
        counter: 0,
      },
    });
    card.powerOn();
    const transmit = transmitTo(card);
    const readers = {
      withCard: (_r: string, _m: string, fn: (c: unknown) => Promise<unknown>) =>
        fn({
          reader: READER,
          protocol: 2,
          transmit: (apdu: Buffer) => {
            // INITIALIZE LOAD (INS 50): amount u32, then the currency in BCD.
            if (apdu[1] === 0x50 && apdu[9] === EUR[0] && apdu[10] === EUR[1]) {
              const rewritten = Buffer.from(apdu);
              rewritten[9] = USD[0] as number;
              rewritten[10] = USD[1] as number;
              return transmit(rewritten);
            }
            return transmit(apdu);
          },
        }),
      list: () => [{ name: READER, card: "present", atr: "3B", inUse: false, since: "t0" }],
      on: () => undefined,
    } as unknown as ReaderManager;
    let authorizations = 0;
    const authorizer = {
      name: "test",
      session: (fn: (s: unknown) => Promise<unknown>) =>
        fn({
          ref: () => null,
          challenge: async () => Buffer.alloc(8, 1),
          verifyAuthentication: async () => undefined,
          authorize: async () => {
            authorizations++;
            return { authorizationId: 1, s2: Buffer.alloc(8) };
          },
        }),
      verifyCompletion: async () => undefined,
      reportReversal: async () => ({}),
      find: async () => undefined,
      abandon: async () => undefined,
    } as unknown as Authorizer;
    const journal = (await openJournal({
      path: join(dir, "value.journal"),
      types: valueRecordTypes,
      initialState: () => emptyValueState(),
      reduce: reduceValue,
      snapshot: valueSnapshot(),
    })) as unknown as Journal<ValueRecords, ValueState, unknown>;
    const engine = new ValueEngine({
      journal,
      currencies: [978, 840],
      limits: { maxBalance: 100_000, maxSingleLoad: 10_000, maxSingleDebit: 10_000, dailyLoadTotal: 100_000 },
      retryMs: 1_000,
      log: pino({ level: "silent" }),
    });
    engine.addDevices(
      new CardDevices({
        readers,
        authority: authorityOf(authorizer),
        samReader: () => undefined,
        families: [
          new PurseFamily({
            authorizer,
            terminalId: Buffer.from("5445524d30303031", "hex"),
            maxBalance: 100_000,
          }),
        ],
      }),
    );
    try {
      const tx = await engine.increase({ reader: READER, amount: 500, currency: 978, requestId: "eur" });
      expect(tx.phase).toBe("failed");
      expect(tx.error).toMatchObject({
        code: "VALUE_REFUSED",
        message: expect.stringContaining("currency 840"),
      });
      expect(authorizations).toBe(0);
    } finally {
      engine.stop();
      await engine.idle();
      await journal.close();
    }
  });
});
