import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ValueTransaction } from "../../src/api/schemas/value.js";
import { TermhostClient } from "../../src/client/client.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { prng } from "../../src/util/prng.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { cardFile, samLedger, threeCardsAndSam } from "./support.js";

export const FAULTS = [
  "none",
  "kill-daemon",
  "pull-card",
  "restart-pcscd",
  "tear-before-commit",
  "tear-after-commit",
  "vanish",
] as const;
export type Fault = (typeof FAULTS)[number];
const WEIGHTS: Record<Fault, number> = {
  none: 30,
  "kill-daemon": 20,
  "pull-card": 15,
  "restart-pcscd": 8,
  "tear-before-commit": 9,
  "tear-after-commit": 9,
  vanish: 9,
};

export interface CampaignResult {
  seed: number;
  loads: number;
  outcomes: Record<string, number>;
  faults: Record<Fault, number>;
  discrepancies: string[];
  cards: Array<{ cardId: string; initial: number; final: number; applied: number; counter: number }>;
}

const CARD_IDS = ["c0c0c0c0c0c00001", "c0c0c0c0c0c00002", "c0c0c0c0c0c00003"];
const CARD_SLOTS = [0, 2, 3];
const SAM_SLOT = 1;
const INITIAL = 5000;

/**
 * Many loads against three cards and a SAM through real pcscd, with a fault injected at a random
 * point of each: the daemon killed with SIGKILL, the card pulled, pcscd killed, the card torn before
 * or after it commits, or vanishing mid-exchange. The client behaves as a kiosk should: after any
 * error it resends the same requestId until the transaction is final. Then every source of truth is
 * reconciled: each card's balance and counter, the SAM's ledger, and what the client was told.
 */
export async function runCampaign(
  loads: number,
  seed: number,
  log: (line: string) => void,
): Promise<CampaignResult> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const dir = mkdtempSync(join(tmpdir(), "termhost-campaign-"));
  const rig = await threeCardsAndSam(dir, CARD_IDS, INITIAL);
  const limits = {
    value: { retryMs: 200, limits: { maxBalance: 2_000_000_000, dailyLoadTotal: 2_000_000_000 } },
  };
  let daemon: TestDaemon = await startDaemon(rig, limits);
  let client: TermhostClient = await daemon.client();
  const faults = Object.fromEntries(FAULTS.map((f) => [f, 0])) as Record<Fault, number>;
  const told = new Map<string, ValueTransaction>();
  const slotOf = new Map<string, number>();

  const reconnect = async (): Promise<void> => {
    client.close();
    client = await TermhostClient.connect({ socketPath: daemon.socketPath, timeoutMs: 15_000 });
  };
  /** Calls the daemon, riding out its restarts. */
  const call = async <T>(fn: (c: TermhostClient) => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(client);
      } catch (e) {
        const transient =
          isTermhostError(e, "DAEMON_UNREACHABLE") ||
          isTermhostError(e, "TIMEOUT") ||
          isTermhostError(e, "BUSY");
        if (!transient || attempt > 200) throw e;
        await new Promise((r) => setTimeout(r, 50));
        if (!isTermhostError(e, "BUSY")) await reconnect().catch(() => {});
      }
    }
  };
  const reinsertAll = async (): Promise<void> => {
    for (const slot of [...CARD_SLOTS, SAM_SLOT]) await rig.insert(slot);
  };

  try {
    for (let i = 0; i < loads; i++) {
      const slot = pick(CARD_SLOTS);
      const reader = rig.readerNames[slot] as string;
      const amount = 1 + Math.floor(rand() * 500);
      const requestId = `campaign-${seed}-${i}`;
      const fault = weighted(rand);
      const delayMs = Math.floor(rand() * 25);
      faults[fault]++;
      slotOf.set(requestId, slot);
      if (fault === "tear-before-commit" || fault === "tear-after-commit") {
        const when = fault === "tear-before-commit" ? "before-commit" : "after-commit-before-response";
        await rig.control.call("card.tear", { slot, fault: { command: "CREDIT", when } });
      } else if (fault === "vanish") {
        await rig.control.call("card.tear", { slot, fault: { apdu: 1 + Math.floor(rand() * 7) } });
      }
      const params = { reader, amount, currency: "EUR", requestId };
      const first = client.call("value.increase", params).catch((e: unknown) => e);
      if (fault === "kill-daemon" || fault === "pull-card" || fault === "restart-pcscd") {
        await new Promise((r) => setTimeout(r, delayMs));
        if (fault === "kill-daemon") {
          await rig.kill(daemon.process);
          daemon = await startDaemon(rig, limits);
          await reconnect();
        } else if (fault === "pull-card") {
          await rig.remove(slot);
          await rig.insert(slot);
        } else {
          await rig.restartPcscd();
          await reinsertAll();
        }
      }
      await first;
      const final = await waitUntil(
        `request ${requestId} (${fault}) to settle`,
        async () => {
          // A torn or vanished card is out of the reader: put it back, as the customer would.
          if ((await rig.simStatus()).slots.some((s) => s.card !== null && !s.inserted)) await reinsertAll();
          const tx = (await call((c) => c.call("value.increase", params))) as ValueTransaction;
          return tx.state === "applied" || tx.state === "failed" ? tx : undefined;
        },
        60_000,
        100,
      );
      told.set(requestId, final);
      if ((i + 1) % 50 === 0) log(`campaign: ${i + 1}/${loads} loads`);
    }
    // Reversals the SAM could not take at the time are reported by the daemon's retries.
    await waitUntil(
      "every reversal reported",
      async () => {
        for (const [requestId, tx] of told) {
          if (tx.reversal !== null && !tx.reversal.reported) {
            const now = (await call((c) => c.call("value.status", { requestId }))) as ValueTransaction;
            told.set(requestId, now);
            if (now.reversal !== null && !now.reversal.reported) return undefined;
          }
        }
        return true;
      },
      60_000,
      200,
    );
    return audit();
  } finally {
    client.close();
    await rig.stop();
  }

  function audit(): CampaignResult {
    const discrepancies: string[] = [];
    const outcomes: Record<string, number> = {};
    for (const tx of told.values()) {
      const key =
        tx.state === "applied"
          ? `applied${tx.restored === null ? "" : ` (${tx.restored})`}`
          : `failed ${tx.error?.code}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    const ledger = samLedger(dir);
    const cards = CARD_IDS.map((cardId, k) => {
      const mine = [...told.entries()]
        .filter(([rid]) => slotOf.get(rid) === CARD_SLOTS[k])
        .map(([, tx]) => tx);
      const applied = mine.filter((tx) => tx.state === "applied");
      const sum = applied.reduce((a, tx) => a + tx.amount, 0);
      const file = cardFile(dir, cardId);
      if (file.balance !== INITIAL + sum) {
        discrepancies.push(`${cardId}: balance ${file.balance}, expected ${INITIAL} + ${sum}`);
      }
      if (file.counter !== applied.length) {
        discrepancies.push(`${cardId}: counter ${file.counter}, expected ${applied.length} applied loads`);
      }
      const entries = ledger.filter((e) => e.cardId === cardId);
      const ledgerApplied = entries.filter((e) => e.status === "applied");
      if (
        ledgerApplied.length !== applied.length ||
        ledgerApplied.reduce((a, e) => a + e.amount, 0) !== sum
      ) {
        discrepancies.push(
          `${cardId}: SAM ledger has ${ledgerApplied.length} applied, client was told ${applied.length}`,
        );
      }
      for (const e of entries.filter((x) => x.status === "issued")) {
        discrepancies.push(
          `${cardId}: authorization ${e.authorizationId} neither applied nor reported for reversal`,
        );
      }
      return {
        cardId,
        initial: INITIAL,
        final: file.balance,
        applied: applied.length,
        counter: file.counter,
      };
    });
    return { seed, loads, outcomes, faults, discrepancies, cards };
  }
}

function weighted(rand: () => number): Fault {
  const total = Object.values(WEIGHTS).reduce((a, b) => a + b, 0);
  let r = rand() * total;
  for (const f of FAULTS) {
    r -= WEIGHTS[f];
    if (r < 0) return f;
  }
  return "none";
}
