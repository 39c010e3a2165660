import { readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AtrExplanation, explainAtr } from "../../src/cli/atr-explain.js";
import { tryParseHex } from "../../src/pcsc/apdu/hex.js";
import { jsonOf, runCli } from "../support/cli.js";
import type { ReferenceAnalysis } from "./support/atr-analysis.js";
import {
  analyseManyWithReference,
  analyseWithReference,
  concreteAtrs,
  offlineCacheDir,
  requireReferenceTools,
  SMARTCARD_LIST,
} from "./support/atr-analysis.js";

/** The list has 3,803 concrete ATRs today; far fewer means the file or the filter broke. */
const MINIMUM_ATRS = 3000;

/** ATR_analysis's words for XI, as termhost's clockStop values. */
const CLOCK_STOP: Record<string, string> = {
  "not supported": "not-supported",
  "state L": "state-L",
  "state H": "state-H",
  "no preference": "no-preference",
};

/**
 * Disagreements that are known, each with why termhost reads the ATR as it does. A disagreement
 * not listed here fails the test.
 */
const KNOWN_DIFFERENCES: ReadonlyArray<{
  name: string;
  reason: string;
  applies: (x: AtrExplanation, ref: ReferenceAnalysis, mismatches: readonly string[]) => boolean;
}> = [
  {
    name: "TCK before trailing bytes",
    reason:
      "a protocol other than T=0 is indicated, so ISO 7816-3 puts the TCK right after the historical bytes; " +
      "termhost reads it there and names the bytes after it trailing-bytes, while ATR_analysis reads a TCK " +
      "only when exactly one byte follows the historical bytes and calls the rest 'too long'",
    applies: (x, ref, m) =>
      m.length === 1 &&
      m[0] === "TCK presence" &&
      x.tck?.required === true &&
      (x.trailingBytes ?? "") !== "" &&
      ref.tck === undefined &&
      ref.historicalError === "too-long",
  },
];

const unique = (ts: readonly number[]): number[] => [...new Set(ts)];

/** What termhost and the analyser disagree on for one ATR: [] when they agree. */
function mismatches(x: AtrExplanation, ref: ReferenceAnalysis, text: string): string[] {
  if (x.convention === undefined) {
    // termhost could not explain it: the analyser must have found it broken the same way.
    switch (x.defect?.reason) {
      case "truncated-interface-bytes":
        return ref.historicalBytes === undefined ? [] : ["analyser read past truncated interface bytes"];
      case "missing-historical-bytes":
        return ref.historicalError === "truncated" || ref.historicalBytes === undefined
          ? []
          : ["analyser saw all historical bytes"];
      default:
        return [`termhost refused it (${x.defect?.reason})`];
    }
  }
  const out: string[] = [];
  if (unique(ref.indicatedProtocols).join() !== (x.protocols ?? []).join()) out.push("protocols");
  if (ref.historicalBytes === undefined) {
    // The analyser stops silently when nothing follows the interface bytes.
    if (x.historicalBytes !== "" || x.tck !== null) out.push("analyser stopped after the interface bytes");
    return out;
  }
  // The analyser prints every byte left as historical, then says "too long" and cuts them at K.
  const k = (tryParseHex(text)?.[1] ?? 0) & 0x0f;
  const refHistorical =
    ref.historicalError === "too-long"
      ? ref.historicalBytes.split(" ").slice(0, k).join(" ")
      : ref.historicalBytes;
  if (refHistorical !== x.historicalBytes) out.push("historical bytes");
  if (ref.historicalError === "truncated") out.push("analyser: ATR truncated");
  if ((ref.tck === undefined) !== (x.tck === null)) out.push("TCK presence");
  else if (ref.tck !== undefined && x.tck != null) {
    if (ref.tck.valid !== x.tck.valid) out.push("TCK validity");
    if (ref.tck.value !== Number.parseInt(x.tck.value, 16)) out.push("TCK value");
  }
  // The T=15 global TA: the analyser decodes clock stop and classes A-C the same way.
  const globalTa =
    x.global == null
      ? undefined
      : x.interfaceBytes?.find((b) => b.belongsTo === "global" && /^TA([3-9]|\d\d)/.test(b.name));
  if (globalTa !== undefined && x.global != null) {
    const refTa = ref.classIndicators.get(Number(globalTa.name.slice(2)));
    const refClasses = (refTa?.classes ?? []).filter((c) => c <= "C").join();
    if (refTa === undefined || CLOCK_STOP[refTa.clockStop] !== x.global.clockStop) out.push("clock stop");
    if (refClasses !== x.global.classes.map((c) => c.class).join()) out.push("class indicator");
  }
  return out;
}

describe("ATR explanation against the reference analyser ATR_analysis (pcsc-tools)", () => {
  let cacheDir: string;
  beforeAll(() => {
    requireReferenceTools();
    cacheDir = offlineCacheDir();
  });
  afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

  it("agrees on protocols, historical bytes, TCK and T=15 classes for every concrete ATR of smartcard_list.txt", {
    timeout: 240_000,
  }, async () => {
    const atrs = concreteAtrs(readFileSync(SMARTCARD_LIST, "utf8"));
    expect(atrs.length).toBeGreaterThanOrEqual(MINIMUM_ATRS);
    const references = await analyseManyWithReference(atrs, cacheDir);
    expect(references.length).toBe(atrs.length);

    const tally = { agree: 0 } as Record<string, number>;
    const unexplained: Array<{ atr: string; mismatches: string[] }> = [];
    const warnings: Record<string, number> = {};
    atrs.forEach((atr, i) => {
      const ref = references[i] as ReferenceAnalysis;
      // The library function `termhost atr --json` prints; spawning the CLI 3,803 times adds nothing.
      const x = explainAtr(atr, []);
      for (const w of x.warnings) warnings[w.code] = (warnings[w.code] ?? 0) + 1;
      if (x.defect !== null)
        warnings[`defect ${x.defect.reason}`] = (warnings[`defect ${x.defect.reason}`] ?? 0) + 1;
      const m = mismatches(x, ref, atr);
      if (m.length === 0) {
        tally.agree = (tally.agree ?? 0) + 1;
        return;
      }
      const known = KNOWN_DIFFERENCES.find((d) => d.applies(x, ref, m));
      if (known !== undefined) tally[known.name] = (tally[known.name] ?? 0) + 1;
      else unexplained.push({ atr, mismatches: m });
    });
    console.log(
      `ATR_analysis comparison over ${atrs.length} ATRs: ${JSON.stringify(tally)}; termhost warnings and defects: ${JSON.stringify(warnings)}`,
    );
    expect(unexplained, JSON.stringify(unexplained.slice(0, 40), null, 1)).toEqual([]);
    expect(tally.agree ?? 0).toBeGreaterThanOrEqual(MINIMUM_ATRS);
  });

  it.each([
    ["a SIM announcing T=15", "3B 9F 96 80 1F C7 80 31 E0 73 FE 21 1B 64 40 45 11 00 82 90 00 D5", []],
    [
      "a T=1 card without TCK",
      "3B EE 00 00 81 31 80 43 80 31 80 66 B1 A1 11 01 A0 F6 83 00 90 00",
      ["missing-tck"],
    ],
  ])(
    "the CLI path: termhost --json atr on %s prints what the library explains, exit 0",
    async (_what, atr, codes) => {
      const run = await runCli(["--json", "atr", "--card-list", "", atr]);
      expect(run.code).toBe(0);
      const printed = jsonOf(run) as AtrExplanation;
      expect(printed).toEqual(JSON.parse(JSON.stringify(explainAtr(atr, []))));
      expect(printed.warnings.map((w) => w.code)).toEqual(codes);
      expect(mismatches(printed, await analyseWithReference(atr, cacheDir), atr)).toEqual([]);
    },
  );
});
