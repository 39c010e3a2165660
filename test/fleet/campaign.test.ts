import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Campaign, FAULT_KINDS } from "./support/campaign.js";

const LONG = process.env.TERMHOST_LONG === "1";
const FAULTS = LONG ? 1000 : 100;
const SEED =
  process.env.TERMHOST_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.TERMHOST_SEED);

/**
 * Kiosks refilling and printing against one fleet account while kiosks are killed, the database
 * crashes, a kiosk's network goes silent and connections are ended; afterwards the account, the
 * reservations, the meters' control totals, the fleet ledger and every kiosk's journals must agree.
 */
describe("fleet fault campaign", () => {
  const dir = mkdtempSync(join(tmpdir(), "termhost-campaign-"));
  let campaign: Campaign | undefined;
  let passed = false;

  afterAll(async () => {
    await campaign?.close();
    // Kept when the campaign failed: the kiosks' logs and journals are the evidence.
    if (passed) rmSync(dir, { recursive: true, force: true });
    else console.log(`fleet campaign files kept in ${dir}`);
  });

  it(
    `${FAULTS} faults over 4 kiosks: the books balance to the unit`,
    async () => {
      console.log(`fleet campaign seed ${SEED} (TERMHOST_SEED=${SEED} repeats its draws), ${FAULTS} faults`);
      const started = Date.now();
      const c = await Campaign.start({
        seed: SEED,
        faults: FAULTS,
        kiosks: 4,
        dir,
        meterFunds: 1000,
        opening: 40_000,
        topUp: 20_000,
        lowWater: 4000,
      });
      campaign = c;
      await c.run();
      const journals = await c.settle();
      const audit = await c.audit(journals);
      const n = c.counts;
      const auto = journals
        .flatMap((j) => j.rows)
        .filter((r) => r.kind === "refill" && String(r.body.requestId).startsWith("fleet-"));
      console.log(
        [
          `fleet campaign seed ${SEED}:`,
          `faults ${FAULT_KINDS.map((k) => `${k} ${n.faults[k]}`).join(", ")} (${n.terminatedBackends} backends ended);`,
          `refills asked ${JSON.stringify(n.refills)}, automatic ${auto.length} (${auto.filter((r) => r.state === "applied").length} applied);`,
          `batches ${JSON.stringify(n.batches)}, ${n.pieces} pieces;`,
          `reservations ${JSON.stringify(audit.reservations)}; funded ${audit.funded} in ${n.fundings},`,
          `posted ${audit.posted}, balance ${audit.balance}, reserved ${audit.reserved};`,
          `${audit.ledgerRows} ledger rows; settled in ${n.settleRounds} round(s);`,
          `${audit.discrepancies.length} discrepancies; ${Math.round((Date.now() - started) / 1000)} s`,
        ].join(" "),
      );
      for (const d of audit.discrepancies) console.log(`  discrepancy: ${d}`);
      for (const u of n.unexpected) console.log(`  unexpected answer: ${u}`);

      expect(c.harnessProblems).toEqual([]);
      expect(audit.discrepancies).toEqual([]);
      expect(n.unexpected).toEqual([]);
      const injected = FAULT_KINDS.reduce((s, k) => s + n.faults[k], 0);
      expect(injected).toBe(FAULTS);
      for (const k of FAULT_KINDS) expect(n.faults[k], `faults of kind ${k}`).toBeGreaterThan(0);
      // The load did real work through the faults: money moved and indicia were printed.
      expect(n.refills.applied ?? 0).toBeGreaterThan(0);
      expect(auto.some((r) => r.state === "applied")).toBe(true);
      expect(n.batches.completed ?? 0).toBeGreaterThan(0);
      expect(audit.posted).toBeGreaterThan(0);
      passed = true;
    },
    LONG ? 3_600_000 : 240_000,
  );
});
