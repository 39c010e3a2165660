import { describe, expect, it } from "vitest";
import { runDesfireCampaign } from "./campaign.js";

const LONG = process.env.TERMHOST_LONG === "1";
/** Rounds of up to three requests, three in four of them loads: ≥ 200 loads in CI, ≥ 1,000 long. */
const ROUNDS = Number(process.env.TERMHOST_DESFIRE_ROUNDS ?? (LONG ? 500 : 100));
const SEED = Number(process.env.TERMHOST_SEED ?? 20261202);

describe("DESFire loads and purchases under crashes, card pulls, pcscd restarts, tears and lost answers", () => {
  it(
    `${ROUNDS} rounds: every load on its card exactly once or failed with nothing on it (seed ${SEED})`,
    async () => {
      const r = await runDesfireCampaign(ROUNDS, SEED, (line) => console.log(line));
      console.log(
        `desfire campaign seed ${r.seed}: ${r.rounds} rounds, ${r.loads} loads, ${r.debits} purchases in ${(r.elapsedMs / 1000).toFixed(1)} s, ${r.daemonStarts} daemon starts\n` +
          `  faults:        ${JSON.stringify(r.faults)}\n` +
          `  outcomes:      ${JSON.stringify(r.outcomes)}\n` +
          `  cards:         ${JSON.stringify(r.cards)}\n` +
          `  discrepancies: ${r.discrepancies.length}${r.discrepancies.map((d) => `\n    ${d}`).join("")}`,
      );
      if (r.discrepancies.length > 0)
        console.log(`replay with TERMHOST_SEED=${r.seed} TERMHOST_DESFIRE_ROUNDS=${r.rounds}`);
      expect(r.discrepancies).toEqual([]);
      expect(r.loads).toBeGreaterThanOrEqual(LONG ? 1000 : 200);
      const sum = (re: RegExp): number =>
        Object.entries(r.outcomes)
          .filter(([k]) => re.test(k))
          .reduce((a, [, n]) => a + n, 0);
      const applied = sum(/^(load|debit) applied/);
      expect(sum(/^load applied/)).toBeGreaterThan(r.loads / 2);
      // Tears and lost answers must reach restore both ways: found applied, and sent again.
      expect(sum(/applied \(already-applied\)/)).toBeGreaterThan(0);
      expect(sum(/applied \(resent\)/)).toBeGreaterThan(0);
      // The campaign must exercise the engine, not just fail everything.
      expect(applied).toBeGreaterThan((r.loads + r.debits) / 2);
    },
    LONG ? 3_600_000 : 900_000,
  );
});
