import { TermhostError } from "../../errors/errors.js";
import { toSpacedHex, tryParseHex } from "../apdu/hex.js";
import { DEFAULT_TA1, DI_TABLE, FI_TABLE, FMAX_TABLE } from "./tables.js";

/** Interface bytes TAi, TBi, TCi, TDi of one group (i from 1). */
export interface InterfaceGroup {
  index: number;
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

export interface Atr {
  bytes: Buffer;
  convention: "direct" | "inverse";
  t0: number;
  groups: InterfaceGroup[];
  /** The T value of every TDi present, in order, including T=15 (global bytes follow). */
  indicatedProtocols: number[];
  /** Transmission protocols the card offers, without T=15; [0] when no TD is present. */
  protocols: number[];
  fiIndex: number;
  diIndex: number;
  /** Undefined when TA1 codes an RFU value. */
  fi: number | undefined;
  fmaxMHz: number | undefined;
  di: number | undefined;
  specificMode: SpecificMode | undefined;
  historicalBytes: Buffer;
  tck: number | undefined;
  /** XOR of T0..TCK is zero; undefined when no TCK is present. */
  tckValid: boolean | undefined;
}

export interface ParseAtrOptions {
  /** Return an ATR whose TCK does not check with `tckValid: false` instead of throwing (diagnostics). */
  allowBadTck?: boolean;
}

export const MAX_ATR_LENGTH = 33;

export type AtrDefect =
  | "not-hex"
  | "too-short"
  | "too-long"
  | "bad-ts"
  | "truncated-interface-bytes"
  | "missing-historical-bytes"
  | "missing-tck"
  | "extra-bytes"
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

/** Parses an ATR (ISO 7816-3 section 8); every structural defect is an ATR_MALFORMED error with `context.reason`. */
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
  let presence = t0 >> 4;
  let pos = 2;
  const groups: InterfaceGroup[] = [];
  const indicated: number[] = [];
  for (let index = 1; ; index++) {
    const group: InterfaceGroup = { index };
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
    if (group.td === undefined) break;
    indicated.push(group.td & 0x0f);
    presence = group.td >> 4;
  }

  // ISO 7816-3 8.2.5: TCK is absent if only T=0 is indicated, present in every other case.
  const tckRequired = indicated.some((t) => t !== 0);
  const remaining = bytes.length - pos;
  const expected = k + (tckRequired ? 1 : 0);
  if (remaining < expected) {
    if (tckRequired && remaining === k) {
      throw malformed("missing-tck", "TCK absent although a protocol other than T=0 is indicated", bytes);
    }
    throw malformed(
      "missing-historical-bytes",
      `T0 announces ${k} historical bytes, ${remaining} follow`,
      bytes,
      {
        expected: k,
        actual: Math.min(remaining, k),
      },
    );
  }
  if (remaining > expected) {
    throw malformed(
      "extra-bytes",
      `${remaining - expected} byte(s) after the ${k} historical bytes${tckRequired ? " and TCK" : " (no TCK when only T=0 is indicated)"}`,
      bytes,
      { extra: remaining - expected },
    );
  }

  const historicalBytes = Buffer.from(bytes.subarray(pos, pos + k));
  let tck: number | undefined;
  let tckValid: boolean | undefined;
  if (tckRequired) {
    tck = bytes[bytes.length - 1] ?? 0;
    let xor = 0;
    for (const b of bytes.subarray(1)) xor ^= b;
    tckValid = xor === 0;
    if (!tckValid && options.allowBadTck !== true) {
      throw malformed(
        "bad-tck",
        `TCK ${toSpacedHex(Uint8Array.of(tck))} does not check (should be ${toSpacedHex(Uint8Array.of(tck ^ xor))})`,
        bytes,
        {
          tck,
          expectedTck: tck ^ xor,
        },
      );
    }
  }

  const ta1 = groups[0]?.ta ?? DEFAULT_TA1;
  const fiIndex = ta1 >> 4;
  const diIndex = ta1 & 0x0f;
  const ta2 = groups[1]?.ta;
  const protocols = [...new Set(indicated.filter((t) => t !== 15))];
  return {
    bytes: Buffer.from(bytes),
    convention: ts === 0x3b ? "direct" : "inverse",
    t0,
    groups,
    indicatedProtocols: indicated,
    protocols: protocols.length > 0 ? protocols : [0],
    fiIndex,
    diIndex,
    fi: FI_TABLE[fiIndex],
    fmaxMHz: FMAX_TABLE[fiIndex],
    di: DI_TABLE[diIndex],
    specificMode:
      ta2 === undefined
        ? undefined
        : { protocol: ta2 & 0x0f, canChange: (ta2 & 0x80) === 0, implicitParameters: (ta2 & 0x10) !== 0 },
    historicalBytes,
    tck,
    tckValid,
  };
}
