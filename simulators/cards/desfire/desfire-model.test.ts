import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type DesfireAuthMode,
  DesfireSession,
  decodeLogRecord,
  desfireCardKey,
  encodeLogRecord,
  FileNo,
  KeyNo,
  localKeyHolder,
  SIMULATOR_DESFIRE_MASTER_KEYS_HEX,
  seededRandom,
  TERMHOST_AID,
} from "../../../src/desfire/protocol/index.js";
import { isTermhostError } from "../../../src/errors/errors.js";
import { DesfireCard } from "./desfire-card.js";
import { COMMIT_TEAR_POINTS } from "./faults.js";

const UID = Buffer.from("04C0FFEE000001", "hex");
const MASTER = SIMULATOR_DESFIRE_MASTER_KEYS_HEX.map((h) => Buffer.from(h, "hex"));
const UPPER = 5_000;

/**
 * Random transactions (credits, debits, aborts, tears at every commit point, power losses) against
 * a model of what a DESFire card must hold: committed transactions count, nothing else does.
 */
describe.each(["ev2-first", "ev1-aes"] as const)(
  "DESFire card against a model (%s)",
  (mode: DesfireAuthMode) => {
    it("balance and log equal the committed transactions after 120 random steps", async () => {
      const dir = mkdtempSync(join(tmpdir(), "desfire-model-"));
      const card = new DesfireCard({
        uid: UID,
        masterKeys: MASTER,
        statePath: join(dir, "card.json"),
        initial: { balance: 500, upperLimit: UPPER },
        random: seededRandom(`model-card-${mode}`),
      });
      const rnd = seededRandom(`model-steps-${mode}`);
      const pick = (n: number): number => rnd(2).readUInt16LE(0) % n;
      let balance = 500;
      let seq = 0;
      let session: DesfireSession | undefined;
      const connect = async (): Promise<DesfireSession> => {
        card.powerOn();
        const s = new DesfireSession(async (apdu) => card.transmit(apdu));
        await s.selectApplication(TERMHOST_AID);
        const key = desfireCardKey(MASTER[KeyNo.CREDIT] as Buffer, await s.getUid());
        await s.authenticate(mode, KeyNo.CREDIT, localKeyHolder(key, rnd));
        return s;
      };
      for (let step = 0; step < 120; step++) {
        session ??= await connect();
        const credit = pick(2) === 0;
        const amount = 1 + pick(800);
        const ending = pick(10);
        const fits = credit ? balance + amount <= UPPER : balance - amount >= 0;
        try {
          if (credit) await session.credit(FileNo.VALUE, amount);
          else await session.debit(FileNo.VALUE, amount);
        } catch (e) {
          expect(fits).toBe(false);
          expect(isTermhostError(e, "DESFIRE_STATUS") && e.context?.status).toBe("BOUNDARY_ERROR");
          session = undefined;
          continue;
        }
        expect(fits).toBe(true);
        const after = credit ? balance + amount : balance - amount;
        await session.writeRecord(
          FileNo.LOG,
          0,
          encodeLogRecord({
            seq: seq + 1,
            kind: credit ? "credit" : "debit",
            amount,
            balanceAfter: after,
            currency: 978,
            terminalId: Buffer.alloc(8, 1),
            authMac: credit ? Buffer.alloc(8, 2) : Buffer.alloc(8),
          }),
        );
        if (ending === 0) {
          await session.abortTransaction();
        } else if (ending === 1) {
          card.powerOff();
          session = undefined;
        } else if (ending === 2) {
          const tear = COMMIT_TEAR_POINTS[pick(COMMIT_TEAR_POINTS.length)] ?? "before-commit";
          card.armFault({ tear });
          await expect(session.commitTransaction()).rejects.toThrow();
          if (tear === "after-commit") {
            balance = after;
            seq++;
          }
          session = undefined;
        } else {
          await session.commitTransaction();
          balance = after;
          seq++;
        }
        if (session !== undefined) {
          expect(await session.getValue(FileNo.VALUE)).toBe(balance);
          const records = (await session.readRecords(FileNo.LOG)).map(decodeLogRecord);
          expect(records.at(-1)?.seq ?? 0).toBe(seq);
          expect(records.at(-1)?.balanceAfter ?? 500).toBe(balance);
        }
      }
      expect(card.snapshot.balance).toBe(balance);
      expect(seq).toBeGreaterThan(20);
    });
  },
);
