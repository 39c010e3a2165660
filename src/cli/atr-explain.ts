import { isTermhostError } from "../errors/errors.js";
import { toSpacedHex, tryParseHex } from "../pcsc/apdu/index.js";
import { parseAtr } from "../pcsc/atr/index.js";
import { type CardProfile, identifyCard } from "../pcsc/profiles/index.js";
import { bold, dim, red } from "./colour.js";

export interface AtrExplanation {
  atr: string;
  /** null when the ATR follows ISO 7816-3; otherwise what is wrong with it. */
  defect: { reason: string; message: string } | null;
  convention?: "direct" | "inverse";
  interfaceBytes?: Array<{ name: string; value: string; meaning: string }>;
  protocols?: number[];
  fi?: number | null;
  di?: number | null;
  fmaxMHz?: number | null;
  specificMode?: { protocol: number; canChange: boolean; implicitParameters: boolean } | null;
  historicalBytes?: string;
  /** The historical bytes' printable ASCII, dots elsewhere: issuers often put a name there. */
  historicalText?: string;
  tck?: { value: string; valid: boolean } | null;
  /** Device profiles matching the raw bytes (a broken ATR can still match its card's profile). */
  profiles: string[];
}

function interfaceMeaning(name: string, index: number, value: number): string {
  if (name === "TD") {
    return `T=${value & 0x0f} follows${value >> 4 === 0 ? ", no more interface bytes" : ""}`;
  }
  if (name === "TA" && index === 1) return `Fi index ${value >> 4}, Di index ${value & 0x0f}`;
  if (name === "TC" && index === 1) return `extra guard time ${value} etu`;
  if (name === "TA" && index === 2) return `specific mode, T=${value & 0x0f}`;
  if (name === "TC" && index === 2) return `T=0 waiting time integer ${value}`;
  if (name === "TA" && index > 2) return `IFSC ${value}`;
  if (name === "TB" && index > 2) return `BWI ${value >> 4}, CWI ${value & 0x0f}`;
  if (name === "TC" && index > 2) return value & 1 ? "CRC error detection" : "LRC error detection";
  return "";
}

export function explainAtr(hex: string, cards: readonly CardProfile[]): AtrExplanation {
  const bytes = tryParseHex(hex);
  const profiles = bytes === undefined ? [] : cards.filter((c) => identifyCard(bytes, [c]) !== undefined);
  const names = profiles.map((p) => p.name);
  const atr = bytes === undefined ? hex : toSpacedHex(bytes);
  let parsed: ReturnType<typeof parseAtr>;
  try {
    parsed = parseAtr(hex, { allowBadTck: true });
  } catch (e) {
    if (!isTermhostError(e, "ATR_MALFORMED")) throw e;
    return {
      atr,
      defect: { reason: String(e.context?.reason ?? "malformed"), message: e.message },
      profiles: names,
    };
  }
  const interfaceBytes: NonNullable<AtrExplanation["interfaceBytes"]> = [];
  for (const g of parsed.groups) {
    for (const key of ["ta", "tb", "tc", "td"] as const) {
      const v = g[key];
      if (v === undefined) continue;
      const name = key.toUpperCase();
      interfaceBytes.push({
        name: `${name}${g.index}`,
        value: toSpacedHex(Uint8Array.of(v)),
        meaning: interfaceMeaning(name, g.index, v),
      });
    }
  }
  const hist = parsed.historicalBytes;
  return {
    atr,
    defect:
      parsed.tckValid === false
        ? { reason: "bad-tck", message: "TCK does not check (XOR of T0..TCK is not 0)" }
        : null,
    convention: parsed.convention,
    interfaceBytes,
    protocols: parsed.protocols,
    fi: parsed.fi ?? null,
    di: parsed.di ?? null,
    fmaxMHz: parsed.fmaxMHz ?? null,
    specificMode: parsed.specificMode ?? null,
    historicalBytes: toSpacedHex(hist),
    historicalText: [...hist].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join(""),
    tck:
      parsed.tck === undefined
        ? null
        : { value: toSpacedHex(Uint8Array.of(parsed.tck)), valid: parsed.tckValid === true },
    profiles: names,
  };
}

export function formatAtr(x: AtrExplanation, indent = ""): string {
  const lines = [`${indent}${bold("ATR")} ${x.atr}`];
  const row = (k: string, v: string): void => {
    lines.push(`${indent}  ${k.padEnd(12)} ${v}`);
  };
  if (x.defect !== null) row("problem", red(`${x.defect.reason}: ${x.defect.message}`));
  if (x.convention !== undefined) {
    row("convention", x.convention);
    for (const b of x.interfaceBytes ?? []) row(b.name, `${b.value}  ${dim(b.meaning)}`);
    row("protocols", (x.protocols ?? []).map((t) => `T=${t}`).join(", "));
    row("Fi/Di", `${x.fi ?? "RFU"}/${x.di ?? "RFU"}${x.fmaxMHz == null ? "" : `, fmax ${x.fmaxMHz} MHz`}`);
    if (x.specificMode != null) {
      row("mode", `specific T=${x.specificMode.protocol}${x.specificMode.canChange ? " (can change)" : ""}`);
    }
    row("historical", x.historicalBytes === "" ? "none" : `${x.historicalBytes}  "${x.historicalText}"`);
    if (x.tck != null) row("TCK", `${x.tck.value} ${x.tck.valid ? "ok" : red("bad")}`);
  }
  row("profile", x.profiles.length === 0 ? "no device profile matches" : x.profiles.join(", "));
  return lines.join("\n");
}
