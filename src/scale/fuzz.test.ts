import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { prng } from "../util/prng.js";
import { ReportLayoutSchema } from "./profiles/schema.js";
import { DEFAULT_LAYOUT, parseScaleReport, type ReportLayout, serializeScaleReport } from "./report.js";
import { compareWeights, formatWeight } from "./weight.js";

const SEED = 0x5ca1e;
const VALID = ["030b0bff6f04", "03040cfe1103", "030202000000", "030302007b00", "03060200ffff"];

/** Parses; returns the outcome code, failing the test on anything but a typed SCALE_REPORT_INVALID. */
function outcome(bytes: Buffer, layout: ReportLayout): "ok" | "invalid" {
  try {
    const report = parseScaleReport(bytes, layout);
    formatWeight(report.weight);
    try {
      compareWeights(report.weight, { value: 0, exponent: 0, unit: "gram" });
    } catch (e) {
      if (!isTermhostError(e, "WEIGHT_UNIT_UNSUPPORTED")) throw e;
    }
    return "ok";
  } catch (e) {
    if (isTermhostError(e, "SCALE_REPORT_INVALID")) return "invalid";
    throw new Error(`seed ${SEED}: ${bytes.toString("hex")} threw ${String(e)}`);
  }
}

describe("scale report fuzz", () => {
  it("random reports of every length from 0 to 64 bytes parse or give SCALE_REPORT_INVALID", () => {
    const rand = prng(SEED);
    const seen = { ok: 0, invalid: 0 };
    for (let i = 0; i < 20_000; i++) {
      const length = i % 65;
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(rand() * 256);
      // Keep a share of well-formed prefixes so the parser's success path is fuzzed too.
      if (length > 0 && rand() < 0.5) bytes[0] = 0x03;
      if (length > 2 && rand() < 0.5) {
        bytes[1] = 1 + Math.floor(rand() * 8);
        bytes[2] = 1 + Math.floor(rand() * 12);
      }
      seen[outcome(bytes, DEFAULT_LAYOUT)]++;
    }
    expect(seen.ok).toBeGreaterThan(1_000);
    expect(seen.invalid).toBeGreaterThan(1_000);
  });

  it("mutated real reports parse or give SCALE_REPORT_INVALID; a parse serializes back to the same bytes", () => {
    const rand = prng(SEED + 1);
    let roundTrips = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.from(VALID[i % VALID.length] ?? "", "hex");
      const flips = 1 + Math.floor(rand() * 3);
      for (let f = 0; f < flips; f++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      const cut = rand() < 0.1 ? bytes.subarray(0, Math.floor(rand() * bytes.length)) : bytes;
      if (outcome(cut, DEFAULT_LAYOUT) === "ok") {
        expect(serializeScaleReport(parseScaleReport(cut)).equals(cut)).toBe(true);
        roundTrips++;
      }
    }
    expect(roundTrips).toBeGreaterThan(1_000);
  });

  it("random valid profile layouts never let a random report escape as anything but a typed error", () => {
    const rand = prng(SEED + 2);
    let layouts = 0;
    for (let i = 0; i < 3_000; i++) {
      const candidate = ReportLayoutSchema.safeParse({
        reportId: rand() < 0.3 ? null : Math.floor(rand() * 256),
        statusOffset: Math.floor(rand() * 10),
        unitOffset: Math.floor(rand() * 10),
        exponentOffset: Math.floor(rand() * 10),
        weightOffset: Math.floor(rand() * 10),
        weightBytes: 1 + Math.floor(rand() * 4),
        weightSigned: rand() < 0.5,
      });
      if (!candidate.success) continue;
      layouts++;
      for (let j = 0; j < 10; j++) {
        const bytes = Buffer.alloc(Math.floor(rand() * 16));
        for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(rand() * 256);
        outcome(bytes, candidate.data);
      }
    }
    expect(layouts).toBeGreaterThan(100);
  });
});
