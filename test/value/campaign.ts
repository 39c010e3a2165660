import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProcessGroup } from "../../simulators/rig/processes.js";
import { prng } from "../../src/util/prng.js";
import { waitUntil } from "../../src/util/wait.js";
import { SIMULATED_METER, type SimulatedMeter, startSimulatedMeter } from "../support/meter.js";
import { type Audit, audit } from "./campaign-audit.js";
import { CampaignDaemon, faketimeLib, secondTerminal } from "./campaign-daemon.js";
import { isFinal, Kiosk, type OpKind, type Params } from "./campaign-kiosk.js";
import {
  CARD_IDS,
  CARD_SLOTS,
  type Dup,
  FUNDS,
  INITIAL,
  type Observation,
  type Op,
  type ResendCheck,
  SAM_SLOT,
  type Send,
} from "./campaign-model.js";
import { threeCardsAndSam } from "./support.js";

export const FAULTS = [
  "none",
  "kill-daemon",
  "pull-card",
  "restart-pcscd",
  "tear-before-commit",
  "tear-after-commit",
  "vanish",
  "second-terminal",
  "clock-jump",
] as const;
export type Fault = (typeof FAULTS)[number];
/**
 * How many of each fault a deck of 16 rounds holds. Rounds draw from a shuffled deck, so that every
 * kind comes up in each 16 rounds, even in the short run.
 */
const DECK: Record<Fault, number> = {
  none: 2,
  "kill-daemon": 2,
  "pull-card": 1,
  "restart-pcscd": 1,
  "tear-before-commit": 1,
  "tear-after-commit": 1,
  vanish: 1,
  "second-terminal": 4,
  "clock-jump": 3,
};
/** The n-th second-terminal fault of a run: torn before or after the card commits, then 1 or 2 uses. */
const ELSEWHERE = [
  ["before-commit", 1],
  ["after-commit-before-response", 1],
  ["before-commit", 2],
  ["after-commit-before-response", 2],
] as const;

export interface CampaignResult {
  seed: number;
  rounds: number;
  operations: Record<string, number>;
  sends: Record<string, number>;
  faults: Record<string, number>;
  outcomes: Record<string, number>;
  secondTerminal: Record<string, number>;
  clock: string;
  clockJumps: Record<string, number>;
  resentAfterJump: number;
  daemonStarts: number;
  elapsedMs: number;
  discrepancies: string[];
  cards: Audit["cards"];
  meter: Audit["meter"];
}

/** Another terminal's id, as the card logs its purchases. */
const OTHER_TERMINAL = "4f54484552303032";
/** value.retainClosedDays of the campaign's daemon: a forward jump of 2–4 days passes it. */
const RETAIN_DAYS = 1;
const DAY = 86_400;
const SETTLE_MS = 90_000;

/**
 * The crash campaign ("exactly once, for real"): rounds of loads and purchases on three purse cards
 * and refills of a postage meter, several in flight at once, each round under one fault — termhostd
 * SIGKILLed, a card pulled, pcscd killed, a CREDIT or DEBIT torn before or after it commits, a card
 * vanishing mid-exchange, the card used at another terminal while termhostd is down, or termhostd's
 * wall clock set forward (its journal compacted) or back between two starts. Some requests are sent
 * by two kiosks on two connections at the same moment, the same or with other parameters. Every
 * kiosk sends its requestId again until it is final. Then the auditor reconciles every source of
 * truth: the cards, the SAM's ledger, the meter's registers and what each kiosk was told.
 */
export async function runCampaign(
  rounds: number,
  seed: number,
  log: (line: string) => void,
): Promise<CampaignResult> {
  const t0 = Date.now();
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const dir = mkdtempSync(join(tmpdir(), "termhost-campaign-"));
  const rig = await threeCardsAndSam(dir, CARD_IDS, INITIAL);
  const group = new ProcessGroup();
  let meter: SimulatedMeter | undefined;
  const kiosks: Kiosk[] = [];
  const count = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  const faults: Record<string, number> = {};
  const sendsSeen: Record<string, number> = {};
  const clockJumps: Record<string, number> = {};
  const ops: Op[] = [];
  const observations: Observation[] = [];
  const resends: ResendCheck[] = [];
  /** Cards with a fault armed that has not fired yet: another terminal must not meet it. */
  const armed = new Set<number>();
  const used = { load: new Set<number>(), debit: new Set<number>(), refill: new Set<number>() };
  // Amounts are unique per kind over the run: the SAM's ledger and the card's log name a load by it.
  const fresh = (kind: OpKind): number => {
    const range = kind === "load" ? 50_000 : kind === "debit" ? 3_000 : 400_000; // refills within postage.maxRefillAmount (500,000)
    for (;;) {
      const a = 1 + int(range);
      if (!used[kind].has(a)) {
        used[kind].add(a);
        return a;
      }
    }
  };

  try {
    meter = await startSimulatedMeter(group, dir, FUNDS, "PMCAMP01");
    const daemon = new CampaignDaemon(rig, {
      value: {
        retryMs: 200,
        retainClosedDays: RETAIN_DAYS,
        limits: {
          maxBalance: 2_000_000_000,
          maxSingleLoad: 1_000_000,
          maxSingleDebit: 1_000_000,
          dailyLoadTotal: 2_000_000_000,
        },
      },
      postage: meter.postageConfig,
    });
    await daemon.start();
    const A = await Kiosk.connect(daemon.socketPath);
    const B = await Kiosk.connect(daemon.socketPath);
    kiosks.push(A, B);
    const readerOf = (slot: number): string => rig.readerNames[slot] as string;

    let repairing: Promise<void> = Promise.resolve();
    /** A torn or vanished card is out of its reader: the customer puts it back. */
    const repair = (): Promise<void> => {
      // One at a time; a failed insert fails its caller, not every later repair.
      repairing = repairing
        .catch(() => undefined)
        .then(async () => {
          for (const s of (await rig.simStatus()).slots) {
            if (s.card === null || s.inserted) continue;
            armed.delete(s.slot);
            await rig.insert(s.slot);
          }
        });
      return repairing;
    };
    const useElsewhere = async (
      round: number,
      slot: number,
      after: Observation["after"],
      n = 1 + int(2),
    ): Promise<void> => {
      await repair();
      const amounts = Array.from({ length: n }, () => 1 + int(9));
      const { report, tries } = await secondTerminal(rig, slot, OTHER_TERMINAL, amounts);
      if (tries > 1)
        count(faults, `second terminal after ${after}: card lost, re-seated, tried ${tries} times`);
      observations.push({ round, slot, after, report });
    };

    const nextFault = faultDeck(rand);
    let elsewhereN = 0;
    let jumpN = 0;
    for (let round = 0; round < rounds; round++) {
      // ---- plan: at most one request per card, maybe a refill ------------------------------------
      const roundOps: Op[] = [];
      const busySlots = CARD_SLOTS.filter(() => rand() < 0.7);
      if (busySlots.length === 0 && rand() < 0.5) busySlots.push(pick(CARD_SLOTS));
      const idle = CARD_SLOTS.filter((s) => !busySlots.includes(s));
      const lanes: Array<number | null> = [...busySlots];
      if (rand() < 0.35 || lanes.length === 0) lanes.push(null);
      for (const slot of lanes) {
        const kind: OpKind = slot === null ? "refill" : rand() < 0.6 ? "load" : "debit";
        const params: Params = {
          kind,
          reader: slot === null ? SIMULATED_METER : readerOf(slot),
          slot,
          amount: fresh(kind),
        };
        const r = rand();
        let dup: Dup = r < 0.1 ? "same" : r < 0.15 ? "conflict-amount" : r < 0.2 ? "conflict-reader" : "none";
        if (dup === "conflict-reader" && (slot === null || idle.length === 0)) dup = "conflict-amount";
        const sends: Send[] = [{ who: "A", params, told: undefined, last: "" }];
        if (dup === "same") sends.push({ who: "B", params, told: undefined, last: "" });
        else if (dup === "conflict-amount")
          sends.push({ who: "B", params: { ...params, amount: fresh(kind) }, told: undefined, last: "" });
        else if (dup === "conflict-reader") {
          const other = idle.splice(int(idle.length), 1)[0] as number;
          sends.push({
            who: "B",
            params: { ...params, slot: other, reader: readerOf(other), amount: fresh(kind) },
            told: undefined,
            last: "",
          });
        }
        count(sendsSeen, dup);
        const op: Op = { round, requestId: `campaign-${seed}-${round}-${slot ?? "m"}`, dup, sends };
        roundOps.push(op);
        ops.push(op);
      }

      // ---- the round's fault: armed on a card, or injected while the requests are in flight ---
      let fault = nextFault();
      const cardOps = roundOps.filter(
        (o) => o.sends[0]?.params.slot !== null && o.dup !== "conflict-reader" && !armed.has(slotOf(o)),
      );
      const needsTarget =
        fault === "tear-before-commit" ||
        fault === "tear-after-commit" ||
        fault === "vanish" ||
        fault === "second-terminal";
      if (needsTarget && cardOps.length === 0) fault = "none";
      const target = needsTarget ? pick(cardOps) : undefined;
      const targetSlot = target === undefined ? -1 : slotOf(target);
      let tearAt: "before-commit" | "after-commit-before-response" | undefined;
      let uses: number | undefined;
      if (target !== undefined) {
        const command = target.sends[0]?.params.kind === "load" ? "CREDIT" : "DEBIT";
        if (fault === "vanish") {
          await rig.control.call("card.tear", { slot: targetSlot, fault: { apdu: 1 + int(4) } });
        } else {
          if (fault === "second-terminal") {
            [tearAt, uses] = ELSEWHERE[elsewhereN++ % ELSEWHERE.length] as (typeof ELSEWHERE)[number];
          } else tearAt = fault === "tear-before-commit" ? "before-commit" : "after-commit-before-response";
          await rig.control.call("card.tear", { slot: targetSlot, fault: { command, when: tearAt } });
        }
        armed.add(targetSlot);
      }
      count(faults, fault);

      const firsts = roundOps.map((op) =>
        Promise.all(
          op.sends.map(async (s) => {
            const answer = await (s.who === "A" ? A : B).send(op.requestId, s.params);
            if (answer.kind === "open") s.last = answer.last;
            else s.told = answer;
          }),
        ),
      );
      const delay = (): Promise<void> => new Promise((r) => setTimeout(r, int(150)));
      if (fault === "kill-daemon" || fault === "clock-jump") {
        await delay();
        await daemon.kill();
        if (fault === "kill-daemon" && rand() < 0.3) {
          const candidates = roundOps.filter(
            (o) => o.sends[0]?.params.slot !== null && o.dup !== "conflict-reader" && !armed.has(slotOf(o)),
          );
          if (candidates.length > 0) await useElsewhere(round, slotOf(pick(candidates)), "kill");
        }
        if (fault === "clock-jump") {
          const forward = jumpN++ % 3 !== 1;
          const by = forward ? (RETAIN_DAYS + 1 + rand() * 2) * DAY : -(1 + int(36)) * 3600;
          daemon.clockOffsetSec += by;
          count(clockJumps, forward ? "forward, then compacted" : "back");
          // The journal is compacted under the jumped clock: closed transactions now look old.
          if (forward) await daemon.compact();
        }
        await daemon.start();
      } else if (fault === "pull-card") {
        await delay();
        const slot = pick(busySlots.length > 0 ? busySlots : CARD_SLOTS);
        await rig.remove(slot);
        await rig.insert(slot);
      } else if (fault === "restart-pcscd") {
        await delay();
        await rig.restartPcscd();
        for (const slot of [...CARD_SLOTS, SAM_SLOT]) await rig.insert(slot);
      }
      if (target !== undefined) {
        await firsts[roundOps.indexOf(target)];
        const torn = (await rig.simStatus()).slots.some(
          (s) => s.slot === targetSlot && s.card !== null && !s.inserted,
        );
        if (torn) armed.delete(targetSlot);
        if (fault === "second-terminal") {
          if (torn) {
            // The kiosk is shut down while its customer takes the card to another terminal. (A
            // SIGKILL here races pcscd's clean-up of the dead daemon's handle on the torn card with
            // the card's return, and pcscd may drop the card again: the kill rounds cover SIGKILL.)
            await daemon.stop();
            await useElsewhere(
              round,
              targetSlot,
              tearAt === "before-commit" ? "tear-before-commit" : "tear-after-commit",
              uses,
            );
            await daemon.start();
          } else count(faults, "second-terminal (tear did not fire)");
        }
      }
      await Promise.all(firsts);

      // ---- every kiosk sends its request again until it is final ---------------------------------
      await Promise.all(
        roundOps.flatMap((op) =>
          op.sends.map((s) =>
            s.told !== undefined
              ? undefined
              : waitUntil(
                  `${op.requestId} (${s.who}, ${fault}, last ${s.last}) to settle; replay with TERMHOST_SEED=${seed}`,
                  async () => {
                    await repair();
                    const answer = await (s.who === "A" ? A : B).send(op.requestId, s.params);
                    if (answer.kind === "open") {
                      s.last = answer.last;
                      return undefined;
                    }
                    s.told = answer;
                    return true;
                  },
                  SETTLE_MS,
                  100,
                ),
          ),
        ),
      );

      // ---- after a clock jump, requests from before it are sent again: the same transaction ----
      if (fault === "clock-jump") {
        const earlier = ops.filter((o) => o.round < round && finalOf(o) !== undefined);
        for (let k = 0; k < 3 && earlier.length > 0; k++) {
          const o = earlier.splice(int(earlier.length), 1)[0] as Op;
          const before = finalOf(o) as { txId: string; state: string; params: Params };
          const again = await A.send(o.requestId, before.params);
          resends.push({
            requestId: o.requestId,
            jump: `${Math.round(daemon.clockOffsetSec / 3600)} h`,
            before: { txId: before.txId, state: before.state },
            after:
              again.kind === "tx"
                ? { txId: again.tx.txId, state: again.tx.state }
                : `${again.kind}${again.kind === "open" ? ` ${again.last}` : ""}`,
          });
        }
      }
      if ((round + 1) % 10 === 0) log(`campaign: round ${round + 1}/${rounds}, ${ops.length} requests`);
    }

    const result = await audit({
      auditor: A,
      ops,
      observations,
      resends,
      dir,
      meterRegisters: () => (meter as SimulatedMeter).sim.registers(),
    });
    return {
      seed,
      rounds,
      operations: result.operations,
      sends: sendsSeen,
      faults,
      outcomes: result.outcomes,
      secondTerminal: result.secondTerminal,
      clock:
        faketimeLib === undefined
          ? "clock jumps skipped: libfaketime (Debian package faketime) not installed"
          : `libfaketime ${faketimeLib}`,
      clockJumps,
      resentAfterJump: resends.length,
      daemonStarts: daemon.starts,
      elapsedMs: Date.now() - t0,
      discrepancies: result.discrepancies,
      cards: result.cards,
      meter: result.meter,
    };
  } finally {
    for (const k of kiosks) k.close();
    await meter?.sim.close();
    await group.stopAll();
    await rig.stop();
  }
}

const faultsAvailable: readonly Fault[] = FAULTS.filter(
  (f) => f !== "clock-jump" || faketimeLib !== undefined,
);

export function slotOf(op: Op): number {
  return op.sends[0]?.params.slot ?? -1;
}

/** The transaction a kiosk was told about this requestId, with the parameters that made it. */
export function finalOf(op: Op): { txId: string; state: string; params: Params } | undefined {
  for (const s of op.sends)
    if (s.told?.kind === "tx" && isFinal(s.told.tx))
      return { txId: s.told.tx.txId, state: s.told.tx.state, params: s.params };
  return undefined;
}

/** Decks of faults, each shuffled by the seeded generator. */
function faultDeck(rand: () => number): () => Fault {
  let deck: Fault[] = [];
  return () => {
    if (deck.length === 0) {
      deck = faultsAvailable.flatMap((f) => Array.from({ length: DECK[f] }, () => f));
      for (let i = deck.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [deck[i], deck[j]] = [deck[j] as Fault, deck[i] as Fault];
      }
    }
    return deck.pop() as Fault;
  };
}
