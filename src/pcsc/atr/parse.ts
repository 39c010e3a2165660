import { TermhostError } from "../../errors/errors.js";
import { toSpacedHex, tryParseHex } from "../apdu/hex.js";
import { decodeGlobalT15, type GlobalT15 } from "./global.js";
import { DEFAULT_TA1, DI_TABLE, FI_TABLE, FMAX_TABLE } from "./tables.js";

/**
 * Interface bytes TAi, TBi, TCi, TDi of one group (i from 1). `qualifier` is the T that TD(i-1)
 * indicated, which says whose bytes TAi/TBi/TCi are for i > 2 (15: global); undefined for i = 1.
 */
export interface InterfaceGroup {
  index: number;
  qualifier?: number;
  ta?: number;
  tb?: number;
  tc?: number;
  td?: number;
}

/** TA2: the card runs in specific mode with this protocol. */
export interface SpecificMode {
  protocol: number;
  /** b8 = 0: the card can switch to negotiable mode. */
  canChange: boolean;
  /** b5 = 1: parameters are implicit rather than those of the interface bytes. */
  implicitParameters: boolean;
}

/**
 * An ATR that a reader reported and that can be explained, but that departs from ISO 7816-3's
 * layout after the historical bytes. Real cards do this; the bytes are still shown.
 */
export type AtrWarningCode =
  /** A protocol other than T=0 is indicated, so TCK is due, and no byte follows the historical bytes. */
  | "missing-tck"
  /** Only T=0 is indicated (no TCK is due) and one byte follows the historical bytes: read as a TCK. */
  | "unexpected-tck"
  /** More bytes follow the historical bytes (and the TCK, where due) than the layout has room for. */
  | "trailing-bytes";

export interface AtrWarning {
  code: AtrWarningCode;
  message: string;
}

export interface Atr {
  bytes: Buffer;
  convention: "direct" | "inverse";
  t0: number;
  groups: InterfaceGroup[];
  /** The T value of every TDi present, in order (repeats kept), including T=15. */
  indicatedProtocols: number[];
  /**
   * Every protocol the ATR announces, once each in order of appearance, T=15 (global interface
   * bytes follow) included; empty when there is no TD1 (T=0 is then implied).
   */
  announcedProtocols: number[];
  /**
   * The transmission protocols a connection can use: the announced ones without T=15, or [0]
   * when none is announced. Code choosing T=0 or T=1 reads this, never `announcedProtocols`.
   */
  transmissionProtocols: number[];
  fiIndex: number;
  diIndex: number;
  /** Undefined when TA1 codes an RFU value. */
  fi: number | undefined;
  fmaxMHz: number | undefined;
  di: number | undefined;
  specificMode: SpecificMode | undefined;
  /** The first TA and TB for T=15 decoded; undefined when the ATR announces no T=15. */
  global: GlobalT15 | undefined;
  historicalBytes: Buffer;
  tck: number | undefined;
  /** ISO 7816-3 8.2.5: TCK is due when a protocol other than T=0 is indicated. */
  tckRequired: boolean;
  /** XOR of T0..TCK is zero; undefined when no TCK is present. */
  tckValid: boolean | undefined;
  /** Bytes after the historical bytes and TCK (see the trailing-bytes warning). */
  trailingBytes: Buffer;
  warnings: AtrWarning[];
}

export interface ParseAtrOptions {
  /** Return an ATR whose due TCK does not check with `tckValid: false` instead of throwing (diagnostics). */
  allowBadTck?: boolean;
}

export const MAX_ATR_LENGTH = 33;

/** Why an ATR cannot be explained at all (or, for bad-tck, was corrupted on the way). */
export type AtrDefect =
  | "not-hex"
  | "too-short"
  | "too-long"
  | "bad-ts"
  | "truncated-interface-bytes"
  | "missing-historical-bytes"
  | "bad-tck";

function malformed(reason: AtrDefect, message: string, atr: Uint8Array, extra: Record<string, unknown> = {}) {
  return new TermhostError("ATR_MALFORMED", `ATR ${toSpacedHex(atr)}: ${message}`, {
    context: { reason, length: atr.length, ...extra },
  });
}

function toBytes(input: Uint8Array | string): Buffer {
  if (typeof input !== "string") return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const bytes = tryParseHex(input);
  if (bytes === undefined) {
    throw new TermhostError("ATR_MALFORMED", "ATR is not a hex string", { context: { reason: "not-hex" } });
  }
  return bytes;
}

const INTERFACE_BITS = [
  [0x1, "ta"],
  [0x2, "tb"],
  [0x4, "tc"],
  [0x8, "td"],
] as const;

const hex1 = (b: number): string => toSpacedHex(Uint8Array.of(b));

function readGroups(bytes: Buffer): { groups: InterfaceGroup[]; end: number } {
  let presence = (bytes[1] ?? 0) >> 4;
  let pos = 2;
  let qualifier: number | undefined;
  const groups: InterfaceGroup[] = [];
  for (let index = 1; ; index++) {
    const group: InterfaceGroup = qualifier === undefined ? { index } : { index, qualifier };
    for (const [bit, name] of INTERFACE_BITS) {
      if ((presence & bit) === 0) continue;
      const value = bytes[pos];
      if (value === undefined) {
        throw malformed("truncated-interface-bytes", `ends before ${name.toUpperCase()}${index}`, bytes, {
          offset: pos,
        });
      }
      group[name] = value;
      pos++;
    }
    groups.push(group);
    if (group.td === undefined) return { groups, end: pos };
    qualifier = group.td & 0x0f;
    presence = group.td >> 4;
  }
}

/**
 * Parses an ATR (ISO 7816-3 section 8). A structural defect that leaves the bytes unexplainable
 * (truncated, bad TS, not hex) is an ATR_MALFORMED error with `context.reason`, as is a due TCK
 * that does not check unless `allowBadTck`; what real cards get wrong after the historical bytes
 * (a missing or surplus TCK, trailing bytes) is parsed the way pcsc-tools' ATR_analysis reads it
 * and reported in `warnings`.
 */
export function parseAtr(input: Uint8Array | string, options: ParseAtrOptions = {}): Atr {
  const bytes = toBytes(input);
  if (bytes.length < 2) throw malformed("too-short", "shorter than TS and T0", bytes);
  if (bytes.length > MAX_ATR_LENGTH) {
    throw malformed("too-long", `${bytes.length} bytes, longer than ${MAX_ATR_LENGTH}`, bytes);
  }
  const ts = bytes[0] ?? 0;
  if (ts !== 0x3b && ts !== 0x3f) throw malformed("bad-ts", "TS must be 3B or 3F", bytes, { ts });

  const t0 = bytes[1] ?? 0;
  const k = t0 & 0x0f;
  const { groups, end } = readGroups(bytes);
  const indicated = groups.flatMap((g) => (g.td === undefined ? [] : [g.td & 0x0f]));

  const tckRequired = indicated.some((t) => t !== 0);
  const remaining = bytes.length - end;
  if (remaining < k) {
    throw malformed(
      "missing-historical-bytes",
      `T0 announces ${k} historical bytes, ${remaining} follow`,
      bytes,
      {
        expected: k,
        actual: remaining,
      },
    );
  }
  const historicalBytes = Buffer.from(bytes.subarray(end, end + k));
  const warnings: AtrWarning[] = [];
  // Exactly one byte after the historical bytes is a TCK, due or not (ATR_analysis reads it so);
  // where TCK is due, the first byte after them is it and anything further is trailing.
  const hasTck = remaining === k + 1 || (tckRequired && remaining > k);
  const tckAt = end + k;
  const tck = hasTck ? bytes[tckAt] : undefined;
  const trailingBytes = Buffer.from(bytes.subarray(hasTck ? tckAt + 1 : tckAt));
  let tckValid: boolean | undefined;
  if (tck !== undefined) {
    let xor = 0;
    for (const b of bytes.subarray(1, tckAt + 1)) xor ^= b;
    tckValid = xor === 0;
    if (!tckValid && tckRequired && options.allowBadTck !== true) {
      throw malformed("bad-tck", `TCK ${hex1(tck)} does not check (should be ${hex1(tck ^ xor)})`, bytes, {
        tck,
        expectedTck: tck ^ xor,
      });
    }
    if (!tckRequired) {
      warnings.push({
        code: "unexpected-tck",
        message: `byte ${hex1(tck)} after the historical bytes although only T=0 is indicated (no TCK is due); read as a TCK it ${tckValid ? "checks" : `does not check (would be ${hex1(tck ^ xor)})`}`,
      });
    }
  } else if (tckRequired) {
    warnings.push({
      code: "missing-tck",
      message: "no TCK although a protocol other than T=0 is indicated; nothing checks the ATR's integrity",
    });
  }
  if (trailingBytes.length > 0) {
    warnings.push({
      code: "trailing-bytes",
      message: `${trailingBytes.length} byte(s) ${toSpacedHex(trailingBytes)} after the ${k} historical bytes${hasTck ? " and TCK" : ""}, not part of the ATR's layout`,
    });
  }

  const ta1 = groups[0]?.ta ?? DEFAULT_TA1;
  const fiIndex = ta1 >> 4;
  const diIndex = ta1 & 0x0f;
  const ta2 = groups[1]?.ta;
  const announced = [...new Set(indicated)];
  const transmission = announced.filter((t) => t !== 15);
  return {
    bytes: Buffer.from(bytes),
    convention: ts === 0x3b ? "direct" : "inverse",
    t0,
    groups,
    indicatedProtocols: indicated,
    announcedProtocols: announced,
    transmissionProtocols: transmission.length > 0 ? transmission : [0],
    fiIndex,
    diIndex,
    fi: FI_TABLE[fiIndex],
    fmaxMHz: FMAX_TABLE[fiIndex],
    di: DI_TABLE[diIndex],
    specificMode:
      ta2 === undefined
        ? undefined
        : { protocol: ta2 & 0x0f, canChange: (ta2 & 0x80) === 0, implicitParameters: (ta2 & 0x10) !== 0 },
    global: announced.includes(15) ? decodeGlobalT15(groups) : undefined,
    historicalBytes,
    tck,
    tckRequired,
    tckValid,
    trailingBytes,
    warnings,
  };
}
