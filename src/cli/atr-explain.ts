import { isTermhostError } from "../errors/errors.js";
import { toSpacedHex, tryParseHex } from "../pcsc/apdu/index.js";
import { describeInterfaceBytes, parseAtr, SUPPLY_CLASSES } from "../pcsc/atr/index.js";
import type { LoadedCardList } from "../pcsc/card-list/index.js";
import { type CardProfile, identifyCard } from "../pcsc/profiles/index.js";
import { bold, dim, red, yellow } from "./colour.js";

export interface AtrExplanation {
  atr: string;
  /** null when the ATR can be explained and its due TCK checks; otherwise why not (exit 11). */
  defect: { reason: string; message: string } | null;
  /** What the ATR gets wrong that readers still report (exit 0): missing-tck, unexpected-tck, trailing-bytes. */
  warnings: Array<{ code: string; message: string }>;
  convention?: "direct" | "inverse";
  interfaceBytes?: Array<{ name: string; value: string; belongsTo: string; meaning: string }>;
  /** Every protocol the ATR announces in its TD bytes, T=15 (global interface bytes) included. */
  protocols?: number[];
  /** Those a connection can use: `protocols` without T=15, or [0] when none is announced. */
  transmissionProtocols?: number[];
  fi?: number | null;
  di?: number | null;
  fmaxMHz?: number | null;
  specificMode?: { protocol: number; canChange: boolean; implicitParameters: boolean } | null;
  /** The first TA/TB for T=15; null when T=15 is not announced. */
  global?: {
    clockStop: string | null;
    classes: Array<{ class: string; volts: string }>;
    spu: string | null;
  } | null;
  historicalBytes?: string;
  /** The historical bytes' printable ASCII, dots elsewhere: issuers often put a name there. */
  historicalText?: string;
  tck?: { value: string; valid: boolean; required: boolean } | null;
  trailingBytes?: string;
  /** Device profiles matching the raw bytes (a broken ATR can still match its card's profile). */
  profiles: string[];
  /** Entries of pcsc-tools' smartcard_list.txt matching the ATR; null when no list is in use. */
  cardList: {
    file: string;
    entries: number;
    /** Entries of the file that were malformed and left out, with their line. */
    skipped: Array<{ line: number; reason: string }>;
    matches: Array<{ pattern: string; line: number; descriptions: string[] }>;
  } | null;
}

const hex1 = (v: number): string => toSpacedHex(Uint8Array.of(v));

export function explainAtr(
  hex: string,
  cards: readonly CardProfile[],
  list?: LoadedCardList,
): AtrExplanation {
  const bytes = tryParseHex(hex);
  const profiles = bytes === undefined ? [] : cards.filter((c) => identifyCard(bytes, [c]) !== undefined);
  const atr = bytes === undefined ? hex : toSpacedHex(bytes);
  const naming = {
    profiles: profiles.map((p) => p.name),
    cardList:
      list === undefined
        ? null
        : {
            file: list.file,
            entries: list.entries,
            skipped: list.skipped,
            matches: (bytes === undefined ? [] : list.lookup(bytes)).map((e) => ({
              pattern: e.pattern,
              line: e.line,
              descriptions: e.descriptions,
            })),
          },
  };
  let parsed: ReturnType<typeof parseAtr>;
  try {
    parsed = parseAtr(hex, { allowBadTck: true });
  } catch (e) {
    if (!isTermhostError(e, "ATR_MALFORMED")) throw e;
    return {
      atr,
      defect: { reason: String(e.context?.reason ?? "malformed"), message: e.message },
      warnings: [],
      ...naming,
    };
  }
  const hist = parsed.historicalBytes;
  const g = parsed.global;
  return {
    atr,
    defect:
      parsed.tckRequired && parsed.tckValid === false
        ? { reason: "bad-tck", message: "TCK does not check (XOR of T0..TCK is not 0)" }
        : null,
    warnings: parsed.warnings.map((w) => ({ code: w.code, message: w.message })),
    convention: parsed.convention,
    interfaceBytes: describeInterfaceBytes(parsed.groups).map((b) => ({
      name: b.name,
      value: hex1(b.value),
      belongsTo: b.owner,
      meaning: b.meaning,
    })),
    protocols: parsed.announcedProtocols,
    transmissionProtocols: parsed.transmissionProtocols,
    fi: parsed.fi ?? null,
    di: parsed.di ?? null,
    fmaxMHz: parsed.fmaxMHz ?? null,
    specificMode: parsed.specificMode ?? null,
    global:
      g === undefined
        ? null
        : {
            clockStop: g.clockStop ?? null,
            classes: SUPPLY_CLASSES.filter((c) => g.classes.includes(c.class)).map((c) => ({ ...c })),
            spu: g.spu === undefined ? null : hex1(g.spu),
          },
    historicalBytes: toSpacedHex(hist),
    historicalText: [...hist].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join(""),
    tck:
      parsed.tck === undefined
        ? null
        : { value: hex1(parsed.tck), valid: parsed.tckValid === true, required: parsed.tckRequired },
    trailingBytes: toSpacedHex(parsed.trailingBytes),
    ...naming,
  };
}

function protocolsText(x: AtrExplanation): string {
  const announced = x.protocols ?? [];
  if (announced.length === 0) return "T=0 (implied: no TD1)";
  const text = announced.map((t) => (t === 15 ? "T=15 (global interface bytes)" : `T=${t}`)).join(", ");
  return announced.includes(15)
    ? `${text}; transmission ${(x.transmissionProtocols ?? []).map((t) => `T=${t}`).join(", ")}`
    : text;
}

export function formatAtr(x: AtrExplanation, indent = ""): string {
  const lines = [`${indent}${bold("ATR")} ${x.atr}`];
  const row = (k: string, v: string): void => {
    lines.push(`${indent}  ${k.padEnd(12)} ${v}`);
  };
  if (x.defect !== null) row("problem", red(`${x.defect.reason}: ${x.defect.message}`));
  for (const w of x.warnings) row("warning", yellow(`${w.code}: ${w.message}`));
  if (x.convention !== undefined) {
    row("convention", x.convention);
    for (const b of x.interfaceBytes ?? [])
      row(b.name, `${b.value}  ${dim(`[${b.belongsTo}]`)} ${b.meaning}`);
    row("protocols", protocolsText(x));
    row("Fi/Di", `${x.fi ?? "RFU"}/${x.di ?? "RFU"}${x.fmaxMHz == null ? "" : `, fmax ${x.fmaxMHz} MHz`}`);
    if (x.specificMode != null) {
      row("mode", `specific T=${x.specificMode.protocol}${x.specificMode.canChange ? " (can change)" : ""}`);
    }
    if (x.global != null) {
      const classes = x.global.classes.map((c) => `${c.class} ${c.volts}`).join(", ");
      row("classes", classes === "" ? "none indicated" : classes);
    }
    row("historical", x.historicalBytes === "" ? "none" : `${x.historicalBytes}  "${x.historicalText}"`);
    if (x.tck != null) {
      const state = x.tck.valid ? "ok" : x.tck.required ? red("bad") : "does not check";
      row("TCK", `${x.tck.value} ${state}${x.tck.required ? "" : " (not due: only T=0)"}`);
    }
    if (x.trailingBytes !== undefined && x.trailingBytes !== "") row("trailing", x.trailingBytes);
  }
  row("profile", x.profiles.length === 0 ? "no device profile matches" : x.profiles.join(", "));
  if (x.cardList !== null) {
    const names = x.cardList.matches.flatMap((m) => m.descriptions);
    if (names.length === 0) row("card list", dim("not in smartcard_list.txt"));
    names.forEach((n, i) => {
      row(i === 0 ? "card list" : "", n);
    });
  }
  return lines.join("\n");
}
