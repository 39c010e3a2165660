import { z } from "zod";
import { toSpacedHex } from "../apdu/hex.js";

/** One card model of the list: an ATR pattern and the lines describing the cards that answer it. */
export interface CardListEntry {
  /** The pattern as written in the file, e.g. `3B 8F 80 01 80 4F 0C A0 00 00 03 06 .. 00 ..`. */
  pattern: string;
  /** 1-based line of the pattern in the file, to find it again. */
  line: number;
  descriptions: string[];
}

export interface SkippedEntry {
  line: number;
  reason: string;
}

/** A parsed card list; `lookup` answers in file order, as ATR_analysis prints its matches. */
export interface CardList {
  entries: number;
  skipped: SkippedEntry[];
  lookup(atr: Uint8Array): CardListEntry[];
}

/**
 * A pattern line: upper-case spaced hex where any byte or nibble may be `.` (any), a `[..]`
 * class, or followed by the few regular-expression operators the list uses (`*`, `+`, `?`,
 * groups). Anything else is refused rather than handed to the regular-expression engine.
 */
const PatternLine = z
  .string()
  .min(2)
  .max(400)
  .regex(/^[0-9A-Fa-f .[\],\-*+?()|]+$/, "characters other than hex, spaces and . [ ] , - * + ? ( ) |");
const Description = z.string().trim().min(1, "empty description");
const CONCRETE = /^[0-9A-F]{2}(?: [0-9A-F]{2})*$/i;

interface Pending {
  pattern: string;
  line: number;
  descriptions: string[];
  /** False for a refused pattern: its descriptions are read and dropped with it. */
  usable: boolean;
}

function refusal(pattern: string): string | undefined {
  const checked = PatternLine.safeParse(pattern);
  if (!checked.success) return checked.error.issues[0]?.message ?? "invalid pattern";
  try {
    new RegExp(`^${pattern}$`, "i");
  } catch {
    return "not a valid regular expression";
  }
  return undefined;
}

/**
 * Parses pcsc-tools' smartcard_list.txt: `#` comments, a pattern line, then its descriptions on
 * lines starting with a tab, then a blank line. A pattern that does not validate or compile, a
 * pattern without description and descriptions without pattern are skipped and counted; the
 * rest of the list is still used.
 */
export function parseCardList(text: string): CardList {
  const exact = new Map<string, CardListEntry[]>();
  const patterns: Array<{ regex: RegExp; entry: CardListEntry }> = [];
  const skipped: SkippedEntry[] = [];
  let entries = 0;
  let pending: Pending | undefined;
  let orphanReported = false;

  const close = (): void => {
    const p = pending;
    pending = undefined;
    if (p === undefined || !p.usable) return;
    if (p.descriptions.length === 0) {
      skipped.push({ line: p.line, reason: "pattern without description" });
      return;
    }
    const entry: CardListEntry = { pattern: p.pattern, line: p.line, descriptions: p.descriptions };
    entries++;
    if (CONCRETE.test(p.pattern)) {
      const key = p.pattern.toUpperCase();
      exact.set(key, [...(exact.get(key) ?? []), entry]);
      return;
    }
    // ATR_analysis matches `^PATTERN$` case-insensitively against the upper-case spaced ATR.
    patterns.push({ regex: new RegExp(`^${p.pattern}$`, "i"), entry });
  };

  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/\r$/, "");
    if (line.startsWith("#")) return;
    if (line.startsWith("\t")) {
      const d = Description.safeParse(line);
      if (pending !== undefined) {
        if (d.success) pending.descriptions.push(d.data);
      } else if (!orphanReported) {
        skipped.push({ line: i + 1, reason: "description without pattern" });
        orphanReported = true;
      }
      return;
    }
    close();
    orphanReported = false;
    const pattern = line.trimEnd();
    if (pattern === "") return;
    const why = refusal(pattern);
    if (why !== undefined) skipped.push({ line: i + 1, reason: why });
    pending = { pattern, line: i + 1, descriptions: [], usable: why === undefined };
  });
  close();

  return {
    entries,
    skipped,
    lookup(atr: Uint8Array): CardListEntry[] {
      const spaced = toSpacedHex(atr);
      const found = [...(exact.get(spaced) ?? [])];
      for (const p of patterns) if (p.regex.test(spaced)) found.push(p.entry);
      return found.sort((a, b) => a.line - b.line);
    },
  };
}
