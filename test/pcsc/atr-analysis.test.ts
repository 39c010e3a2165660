import { readFileSync, rmSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { isTermhostError } from "../../src/errors/errors.js";
import { toSpacedHex } from "../../src/pcsc/apdu/hex.js";
import type { Atr } from "../../src/pcsc/atr/parse.js";
import { parseAtr } from "../../src/pcsc/atr/parse.js";
import type { ReferenceAnalysis } from "./support/atr-analysis.js";
import {
  analyseWithReference,
  concreteAtrs,
  mapLimited,
  offlineCacheDir,
  requireReferenceTools,
  SMARTCARD_LIST,
} from "./support/atr-analysis.js";

/** Take every STEP-th concrete ATR of the list: deterministic, spread over the whole file. */
const STEP = 4;
const MINIMUM_SAMPLE = 200;

type Ours = { atr: Atr } | { reason: unknown };

function ours(text: string): Ours {
  try {
    return { atr: parseAtr(text, { allowBadTck: true }) };
  } catch (e) {
    if (!isTermhostError(e, "ATR_MALFORMED")) throw e;
    return { reason: e.context?.reason };
  }
}

/**
 * "agree", or the name of a known difference between the two rule sets. The analyser decides
 * TCK presence by counting bytes (TCK present iff one byte more than the historical bytes is
 * left); the product applies ISO 7816-3's rule (TCK present iff a protocol other than T=0 is
 * indicated). So an ATR breaking that rule is read differently, and the product rejects it.
 */
function compare(text: string, mine: Ours, ref: ReferenceAnalysis): string {
  if ("atr" in mine) {
    const { atr } = mine;
    if (ref.historicalBytes === undefined) {
      // The analyser stops when no byte is left after the interface bytes, before printing any.
      const silentEnd = atr.historicalBytes.length === 0 && atr.tck === undefined;
      return silentEnd ? "agree" : "analyser stopped early on an ATR the product parsed";
    }
    const mismatches: string[] = [];
    if (ref.indicatedProtocols.join() !== atr.indicatedProtocols.join()) mismatches.push("protocols");
    if (ref.historicalBytes !== toSpacedHex(atr.historicalBytes)) mismatches.push("historical bytes");
    if (ref.historicalError !== undefined)
      mismatches.push(`analyser: historical bytes ${ref.historicalError}`);
    if ((ref.tck === undefined) !== (atr.tck === undefined)) mismatches.push("TCK presence");
    else if (ref.tck !== undefined && (ref.tck.valid !== atr.tckValid || ref.tck.value !== atr.tck)) {
      mismatches.push("TCK validity");
    }
    return mismatches.length === 0 ? "agree" : `disagree on ${mismatches.join(", ")}`;
  }
  switch (mine.reason) {
    case "truncated-interface-bytes":
      return ref.historicalBytes === undefined ? "agree" : "analyser read past truncated interface bytes";
    case "missing-historical-bytes":
      // Either the analyser reports the truncation, or it stopped silently because the ATR ends
      // right after the interface bytes; both mean historical bytes are missing.
      if (ref.historicalError === "truncated" || ref.historicalBytes === undefined) return "agree";
      return "analyser saw all historical bytes";
    case "extra-bytes":
      if (ref.historicalError === "too-long") return "agree";
      return ref.tck !== undefined && ref.indicatedProtocols.every((t) => t === 0)
        ? "known: TCK byte on a T=0-only ATR"
        : "analyser saw no extra byte";
    case "missing-tck":
      return ref.tck === undefined && ref.historicalError === undefined
        ? "known: no TCK although T≠0 is indicated"
        : "analyser found a TCK";
    default:
      return `product rejected (${String(mine.reason)}) ${text}`;
  }
}

describe("ATR parser against the reference analyser ATR_analysis", () => {
  it(`agrees on protocols, historical bytes and TCK for every ${STEP}th concrete ATR of smartcard_list.txt`, async () => {
    requireReferenceTools();
    const all = concreteAtrs(readFileSync(SMARTCARD_LIST, "latin1"));
    const sample = all.filter((_, i) => i % STEP === 0);
    expect(sample.length).toBeGreaterThanOrEqual(MINIMUM_SAMPLE);

    const cacheDir = offlineCacheDir();
    const references = await mapLimited(sample, 2, (atr) => analyseWithReference(atr, cacheDir)).finally(() =>
      rmSync(cacheDir, { recursive: true, force: true }),
    );
    const verdicts = new Map<string, string[]>();
    sample.forEach((atr, i) => {
      const ref = references[i];
      if (ref === undefined) throw new Error(`no reference analysis for ${atr}`);
      const verdict = compare(atr, ours(atr), ref);
      verdicts.set(verdict, [...(verdicts.get(verdict) ?? []), atr]);
    });
    const summary = Object.fromEntries([...verdicts].map(([v, atrs]) => [v, atrs.length]));
    console.log(`ATR_analysis comparison over ${sample.length} ATRs:`, JSON.stringify(summary));
    const unexplained = [...verdicts].filter(([v]) => v !== "agree" && !v.startsWith("known:"));
    expect(unexplained, JSON.stringify(Object.fromEntries(unexplained), null, 1)).toEqual([]);
    expect(verdicts.get("agree")?.length ?? 0).toBeGreaterThanOrEqual(MINIMUM_SAMPLE);
  });
});
