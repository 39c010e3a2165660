import { describe, expect, it } from "vitest";
import { runCampaign } from "./campaign.js";

const LONG = process.env.TERMHOST_LONG === "1";
const ROUNDS = Number(process.env.TERMHOST_CAMPAIGN_ROUNDS ?? (LONG ? 640 : 24));
const SEED = Number(process.env.TERMHOST_SEED ?? 20261124);

describe("loads, purchases and refills under crashes, tears, another terminal and clock jumps", () => {
  it(
    `${ROUNDS} rounds: every request once, on its card exactly once, failed with nothing on it, or unresolved only past 2 (seed ${SEED})`,
    async () => {
      const r = await runCampaign(ROUNDS, SEED, (line) => console.log(line));
      console.log(
        `campaign seed ${r.seed}: ${r.rounds} rounds in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.daemonStarts} daemon starts\n` +
          `  operations:      ${JSON.stringify(r.operations)}\n` +
          `  sends:           ${JSON.stringify(r.sends)}\n` +
          `  faults:          ${JSON.stringify(r.faults)}\n` +
          `  outcomes:        ${JSON.stringify(r.outcomes)}\n` +
          `  second terminal: ${JSON.stringify(r.secondTerminal)}\n` +
          `  clock:           ${r.clock}; jumps ${JSON.stringify(r.clockJumps)}; resent after a jump ${r.resentAfterJump}\n` +
          `  cards:           ${JSON.stringify(r.cards)}\n` +
          `  meter:           ${JSON.stringify(r.meter)}\n` +
          `  discrepancies:   ${r.discrepancies.length}${r.discrepancies.map((d) => `\n    ${d}`).join("")}`,
      );
      if (r.discrepancies.length > 0)
        console.log(`replay with TERMHOST_SEED=${r.seed} TERMHOST_CAMPAIGN_ROUNDS=${r.rounds}`);
      expect(r.discrepancies).toEqual([]);
      const total = Object.values(r.outcomes).reduce((a, n) => a + n, 0);
      const applied = Object.entries(r.outcomes)
        .filter(([k]) => / applied/.test(k))
        .reduce((a, [, n]) => a + n, 0);
      // The campaign must exercise the engine, not just fail everything.
      expect(applied).toBeGreaterThan(total / 3);
    },
    LONG ? 3_600_000 : 600_000,
  );
});
