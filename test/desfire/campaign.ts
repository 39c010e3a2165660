import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDesfireState } from "../../simulators/cards/desfire/state.js";
import { Rig } from "../../simulators/rig/rig.js";
import type { CardSpec } from "../../simulators/scenario.js";
import type { ValueTransaction } from "../../src/api/schemas/value.js";
import { desfireMasterKeys } from "../../src/desfire/family/keys.js";
import { decodeLogRecord } from "../../src/desfire/protocol/index.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../../src/purse/messages/well-known-keys.js";
import { prng } from "../../src/util/prng.js";
import { waitUntil } from "../../src/util/wait.js";
import { CampaignDaemon } from "../value/campaign-daemon.js";
import { Kiosk, type Params, type Told } from "../value/campaign-kiosk.js";
import { samLedger, samSpec } from "../value/support.js";

export const DESFIRE_FAULTS = [
  "none",
  "kill-daemon",
  "pull-card",
  "restart-pcscd",
  "tear-before-commit",
  "tear-mid-write",
  "tear-after-commit",
  "lost-answer",
  "vanish",
] as const;
export type DesfireCampaignFault = (typeof DESFIRE_FAULTS)[number];
/** How many of each fault a deck of 16 rounds holds: every kind comes up in each 16 rounds. */
const DECK: Record<DesfireCampaignFault, number> = {
  none: 1,
  "kill-daemon": 3,
  "pull-card": 2,
  "restart-pcscd": 1,
  "tear-before-commit": 2,
  "tear-mid-write": 1,
  "tear-after-commit": 2,
  "lost-answer": 3,
  vanish: 1,
};
/**
 * Commands whose answer the card loses after carrying them out, as when pulled mid-APDU; each is
 * one every load or purchase sends, so the fault fires in its round.
 */
const LOST = ["CommitTransaction", "CommitTransaction", "WriteRecord", "GetValue", "ReadRecords"] as const;

/** Card slots and the SAM's: two vpcd readers of two slots each. */
const CARD_SLOTS = [0, 2, 3] as const;
const SAM_SLOT = 1;
const UIDS = ["04D0000000A001", "04D0000000A002", "04D0000000A003"] as const;
const INITIAL = 1_000_000;
const SETTLE_MS = 90_000;

interface Op {
  round: number;
  requestId: string;
  slot: number;
  params: Params;
  told: Told | undefined;
  last: string;
}

export interface DesfireCampaignResult {
  seed: number;
  rounds: number;
  loads: number;
  debits: number;
  faults: Record<string, number>;
  outcomes: Record<string, number>;
  daemonStarts: number;
  elapsedMs: number;
  cards: Array<{ uid: string; initial: number; final: number; expected: number; logEntries: number }>;
  discrepancies: string[];
}

/**
 * The crash campaign on DESFire cards: rounds of loads and purchases on three DESFire cards at once,
 * each round under one fault — termhostd SIGKILLed, a card pulled, pcscd killed, CommitTransaction
 * torn before, during or after it writes, a command's answer lost after the card carried it out,
 * a card vanishing mid-exchange. Each kiosk sends its requestId again until it is final; then the
 * cards, the SAM's ledger and what the kiosks were told are reconciled.
 */
export async function runDesfireCampaign(
  rounds: number,
  seed: number,
  log: (line: string) => void,
): Promise<DesfireCampaignResult> {
  const t0 = Date.now();
  const rand = prng(seed);
  const int = (n: number): number => Math.floor(rand() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  const dir = mkdtempSync(join(tmpdir(), "termhost-desfire-campaign-"));
  const masterKeys = desfireMasterKeys(Buffer.from(SIMULATOR_MASTER_KEY_HEX, "hex")).map((k) =>
    k.toString("hex"),
  ) as [string, string, string];
  const statePath = (k: number): string => join(dir, `desfire-${UIDS[k]}.json`);
  const card = (k: number): CardSpec => ({
    kind: "desfire",
    uid: UIDS[k] as string,
    masterKeys,
    balance: INITIAL,
    upperLimit: 2_000_000_000,
    statePath: statePath(k),
  });
  const rig = await Rig.start({
    readerEntries: 2,
    slots: [
      { card: card(0), inserted: true },
      { card: samSpec(dir), inserted: true },
      { card: card(1), inserted: true },
      { card: card(2), inserted: true },
    ],
  });
  const kiosks: Kiosk[] = [];
  const faults: Record<string, number> = {};
  const count = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };
  const ops: Op[] = [];
  // Amounts are unique per kind over the run, so that a discrepancy names its transaction.
  const used = { load: new Set<number>(), debit: new Set<number>() };
  const fresh = (kind: "load" | "debit"): number => {
    for (;;) {
      const a = 1 + int(kind === "load" ? 40_000 : 2_000);
      if (!used[kind].has(a)) {
        used[kind].add(a);
        return a;
      }
    }
  };
  let deck: DesfireCampaignFault[] = [];
  const nextFault = (): DesfireCampaignFault => {
    if (deck.length === 0) {
      deck = DESFIRE_FAULTS.flatMap((f) => Array.from({ length: DECK[f] }, () => f));
      for (let i = deck.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [deck[i], deck[j]] = [deck[j] as DesfireCampaignFault, deck[i] as DesfireCampaignFault];
      }
    }
    return deck.pop() as DesfireCampaignFault;
  };

  try {
    const daemon = new CampaignDaemon(rig, {
      value: {
        retryMs: 200,
        desfire: { currency: "EUR" },
        limits: {
          maxBalance: 2_000_000_000,
          maxSingleLoad: 1_000_000,
          maxSingleDebit: 1_000_000,
          dailyLoadTotal: 2_000_000_000,
        },
      },
    });
    await daemon.start();
    const kiosk = await Kiosk.connect(daemon.socketPath);
    kiosks.push(kiosk);
    const readerOf = (slot: number): string => rig.readerNames[slot] as string;
    /** A torn or vanished card is out of its reader: the customer puts it back. */
    const repair = async (): Promise<void> => {
      for (const s of (await rig.simStatus()).slots) {
        if (s.card !== null && !s.inserted) await rig.insert(s.slot);
      }
    };

    for (let round = 0; round < rounds; round++) {
      // A fault armed in an earlier round may have fired late and left its card out.
      await repair();
      const roundOps: Op[] = [];
      for (const slot of CARD_SLOTS) {
        if (rand() < 0.05) continue;
        const kind = rand() < 0.8 ? "load" : "debit";
        const op: Op = {
          round,
          requestId: `desfire-${seed}-${round}-${slot}`,
          slot,
          params: { kind, reader: readerOf(slot), slot, amount: fresh(kind) },
          told: undefined,
          last: "",
        };
        roundOps.push(op);
        ops.push(op);
      }
      let fault = nextFault();
      if (roundOps.length === 0) fault = "none";
      const target = roundOps.length === 0 ? undefined : pick(roundOps);
      if (target !== undefined) {
        const arm = (f: unknown): Promise<unknown> =>
          rig.control.call("card.tear", { slot: target.slot, fault: f });
        if (fault === "tear-before-commit") await arm({ tear: "before-commit" });
        else if (fault === "tear-mid-write") await arm({ tear: "mid-write" });
        else if (fault === "tear-after-commit") await arm({ tear: "after-commit" });
        else if (fault === "lost-answer") {
          const command = pick(LOST);
          await arm({ lostAnswer: command });
          count(faults, `lost answer to ${command}`);
        } else if (fault === "vanish") await arm({ apdu: 1 + int(30) });
      }
      count(faults, fault);

      const send = async (op: Op): Promise<void> => {
        const answer = await kiosk.send(op.requestId, op.params);
        if (answer.kind === "open") op.last = answer.last;
        else op.told = answer;
      };
      const firsts = roundOps.map(send);
      const delay = (): Promise<void> => new Promise((r) => setTimeout(r, int(250)));
      if (fault === "kill-daemon") {
        await delay();
        await daemon.kill();
        await daemon.start();
      } else if (fault === "pull-card" && target !== undefined) {
        await delay();
        await rig.remove(target.slot);
        await rig.insert(target.slot);
      } else if (fault === "restart-pcscd") {
        await delay();
        await rig.restartPcscd();
        for (const slot of [...CARD_SLOTS, SAM_SLOT]) await rig.insert(slot);
      }
      await Promise.all(firsts);

      await Promise.all(
        roundOps.map((op) =>
          op.told !== undefined
            ? undefined
            : waitUntil(
                `${op.requestId} (${fault}, last ${op.last}) to settle; replay with TERMHOST_SEED=${seed}`,
                async () => {
                  await repair();
                  await send(op);
                  return op.told === undefined || (op.told.kind === "tx" && !final(op.told.tx))
                    ? undefined
                    : true;
                },
                SETTLE_MS,
                100,
              ),
        ),
      );
      if ((round + 1) % 20 === 0)
        log(`desfire campaign: round ${round + 1}/${rounds}, ${ops.length} requests`);
    }

    const audited = audit(ops, dir, statePath);
    return {
      seed,
      rounds,
      loads: ops.filter((o) => o.params.kind === "load").length,
      debits: ops.filter((o) => o.params.kind === "debit").length,
      faults,
      outcomes: audited.outcomes,
      daemonStarts: daemon.starts,
      elapsedMs: Date.now() - t0,
      cards: audited.cards,
      discrepancies: audited.discrepancies,
    };
  } finally {
    for (const k of kiosks) k.close();
    await rig.stop();
  }
}

const final = (tx: ValueTransaction): boolean =>
  tx.state === "applied" || tx.state === "failed" || tx.state === "unresolved";

/**
 * Reconciles every source of truth. Each card's value is its initial value plus the loads the kiosk
 * was told applied, less the purchases told applied; a load told failed left nothing; the SAM's
 * ledger holds every told-applied load as applied and no authorization still open.
 */
function audit(
  ops: Op[],
  dir: string,
  statePath: (k: number) => string,
): Pick<DesfireCampaignResult, "outcomes" | "cards" | "discrepancies"> {
  const discrepancies: string[] = [];
  const outcomes: Record<string, number> = {};
  const ledger = samLedger(dir);
  const cards: DesfireCampaignResult["cards"] = [];
  CARD_SLOTS.forEach((slot, k) => {
    const mine = ops.filter((o) => o.slot === slot);
    let expected = INITIAL;
    for (const op of mine) {
      const told = op.told;
      const state = told?.kind === "tx" ? told.tx.state : (told?.kind ?? "never answered");
      const why =
        told?.kind !== "tx"
          ? ""
          : told.tx.state === "failed"
            ? ` ${told.tx.error?.code ?? ""}`
            : told.tx.restored !== null
              ? ` (${told.tx.restored})`
              : "";
      const key = `${op.params.kind} ${state}${why}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      if (told?.kind !== "tx") {
        if (told?.kind !== "refused") discrepancies.push(`${op.requestId}: ${state}`);
        continue;
      }
      if (told.tx.state === "unresolved")
        discrepancies.push(`${op.requestId}: unresolved (${told.tx.error?.message ?? ""})`);
      if (told.tx.state !== "applied") continue;
      expected += op.params.kind === "load" ? op.params.amount : -op.params.amount;
    }
    const state = loadDesfireState(statePath(k));
    if (state === undefined) {
      discrepancies.push(`card ${UIDS[k]}: no state file`);
      return;
    }
    if (state.balance !== expected) {
      discrepancies.push(
        `card ${UIDS[k]}: value ${state.balance}, expected ${expected} (off by ${state.balance - expected})`,
      );
    }
    const log = state.records.map(decodeLogRecord);
    const macs = log.filter((e) => e.kind === "credit").map((e) => e.authMac.toString("hex"));
    if (new Set(macs).size !== macs.length)
      discrepancies.push(`card ${UIDS[k]}: one authorization credited twice in its log`);
    cards.push({
      uid: UIDS[k] as string,
      initial: INITIAL,
      final: state.balance,
      expected,
      logEntries: log.length,
    });
  });
  const appliedLoads = ops.filter(
    (o) => o.params.kind === "load" && o.told?.kind === "tx" && o.told.tx.state === "applied",
  );
  for (const op of appliedLoads) {
    const entries = ledger.filter((e) => e.amount === op.params.amount && e.status === "applied");
    if (entries.length !== 1)
      discrepancies.push(`${op.requestId}: ${entries.length} applied authorizations for it at the SAM`);
  }
  const open = ledger.filter((e) => e.status === "issued");
  for (const e of open) discrepancies.push(`SAM authorization ${e.authorizationId} (${e.amount}) still open`);
  const applied = ledger.filter((e) => e.status === "applied").length;
  if (applied !== appliedLoads.length) {
    discrepancies.push(
      `SAM holds ${applied} applied authorizations, the kiosk was told of ${appliedLoads.length} loads applied`,
    );
  }
  return { outcomes, cards, discrepancies };
}
