import { describe, expect, it } from "vitest";
import { AUTHORIZERS, faultKinds, formatTable, runSoak, type SoakAuthorizer } from "./soak.js";

const LONG = process.env.TERMHOST_SOAK === "long";
const SEED = Number(process.env.TERMHOST_SEED ?? 20261124);
const ROUNDS =
  process.env.TERMHOST_SOAK_ROUNDS === undefined ? undefined : Number(process.env.TERMHOST_SOAK_ROUNDS);
const FAULTS = Number(process.env.TERMHOST_SOAK_FAULTS ?? (LONG ? 9000 : 60));
const MIN_PER_KIND = Number(process.env.TERMHOST_SOAK_MIN_PER_KIND ?? (LONG ? 1000 : 4));
const PER_ROUND = Number(process.env.TERMHOST_SOAK_FAULTS_PER_ROUND ?? (LONG ? 3 : 1));
/** `issuer` (default): loads authorized by the issuer host over HTTP; `sam`: by the SAM in a reader slot. */
const AUTHORIZER = (process.env.TERMHOST_SOAK_AUTHORIZER ?? "issuer") as SoakAuthorizer;
if (!AUTHORIZERS.includes(AUTHORIZER))
  throw new Error(`TERMHOST_SOAK_AUTHORIZER must be one of ${AUTHORIZERS.join(", ")}, not ${AUTHORIZER}`);

describe("soak: a simulated kiosk under load, faults and hostile input", () => {
  it(
    `${ROUNDS === undefined ? `${FAULTS} faults` : `${ROUNDS} rounds`} with nothing lost (seed ${SEED}, ${AUTHORIZER} authorizer)`,
    async () => {
      const result = await runSoak({
        seed: SEED,
        ...(ROUNDS === undefined ? { faults: FAULTS } : { rounds: ROUNDS }),
        minPerKind: MIN_PER_KIND,
        faultsPerRound: PER_ROUND,
        uniform: LONG,
        authorizer: AUTHORIZER,
        ...(process.env.TERMHOST_SOAK_ISSUER_RETRIES === undefined
          ? {}
          : { issuerRetries: Number(process.env.TERMHOST_SOAK_ISSUER_RETRIES) }),
        strict: process.env.TERMHOST_SOAK_STRICT === "1",
        log: (line) => console.log(line),
      });
      console.log(`soak result\n${formatTable(result)}`);
      if (result.stalls.length > 0) console.log(`stalls:\n  ${result.stalls.join("\n  ")}`);
      if (result.lateCommits.length > 0)
        console.log(`authorizations committed late:\n  ${result.lateCommits.join("\n  ")}`);
      if (result.discrepancies.length > 0) {
        console.log(`discrepancies:\n  ${result.discrepancies.slice(0, 50).join("\n  ")}`);
        console.log(
          `replay with ${LONG ? "TERMHOST_SOAK=long " : ""}${process.env.TERMHOST_SOAK_STRICT === "1" ? "TERMHOST_SOAK_STRICT=1 " : ""}${AUTHORIZER === "sam" ? "TERMHOST_SOAK_AUTHORIZER=sam " : ""}${process.env.TERMHOST_SOAK_ISSUER_RETRIES === undefined ? "" : `TERMHOST_SOAK_ISSUER_RETRIES=${process.env.TERMHOST_SOAK_ISSUER_RETRIES} `}TERMHOST_SEED=${result.seed} TERMHOST_SOAK_ROUNDS=${result.rounds} TERMHOST_SOAK_FAULTS_PER_ROUND=${PER_ROUND}`,
        );
      }
      expect(result.discrepancies).toEqual([]);
      if (ROUNDS === undefined)
        for (const f of faultKinds(AUTHORIZER)) expect(result.faults[f], f).toBeGreaterThan(0);
      // The run must move value, not just fail everything.
      expect(result.ops.completed).toBeGreaterThan(result.ops.attempted / 3);
    },
    LONG ? 7_200_000 : 240_000,
  );
});
