import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ATR_ANALYSIS = "/usr/bin/ATR_analysis";
export const SMARTCARD_LIST = "/usr/share/pcsc/smartcard_list.txt";

/** What the reference analyser printed about one ATR. */
export interface ReferenceAnalysis {
  /** T of every TDi line, in order. */
  indicatedProtocols: number[];
  /** Undefined when the analyser stopped inside the interface bytes. */
  historicalBytes: string | undefined;
  historicalError: "truncated" | "too-long" | undefined;
  tck: { value: number; valid: boolean } | undefined;
  output: string;
}

/**
 * Concrete ATRs of the list, in file order: lines that are a plain sequence of hex bytes (lines
 * with `..` wildcards or other regular-expression syntax are skipped).
 */
export function concreteAtrs(listText: string): string[] {
  return listText.split("\n").filter((line) => /^[0-9A-F]{2}( [0-9A-F]{2})*$/.test(line));
}

/**
 * A cache directory holding an empty, freshly touched card list: the analyser then finds no card
 * name and, the list being recent, does not try to download a newer one. Keeps the run offline.
 */
export function offlineCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "termhost-atr-analysis-"));
  const list = join(dir, "smartcard_list.txt");
  writeFileSync(list, "");
  const now = new Date();
  utimesSync(list, now, now);
  return dir;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the analyser colours its output with ANSI escapes
const ANSI = /\u001b\[[0-9;]*m/g;

export function parseReferenceOutput(output: string): ReferenceAnalysis {
  const text = output.replace(ANSI, "");
  const indicatedProtocols: number[] = [];
  let historicalBytes: string | undefined;
  let historicalError: ReferenceAnalysis["historicalError"];
  let tck: ReferenceAnalysis["tck"];
  for (const line of text.split("\n")) {
    const td = /^\s*TD\(\d+\) = [0-9A-F]{2} --> .*Protocol T = (\d+)/.exec(line);
    if (td?.[1] !== undefined) indicatedProtocols.push(Number(td[1]));
    const hist = /^\+ Historical bytes:(.*)$/.exec(line);
    if (hist?.[1] !== undefined) historicalBytes = hist[1].trim().replace(/\s+/g, " ");
    if (/ERROR! ATR is truncated/.test(line)) historicalError = "truncated";
    if (/ERROR! ATR is too long/.test(line)) historicalError = "too-long";
    const t = /^\+ TCK = ([0-9A-F]{2}) (.*)$/.exec(line);
    if (t?.[1] !== undefined)
      tck = { value: Number.parseInt(t[1], 16), valid: /correct checksum/.test(t[2] ?? "") };
  }
  return { indicatedProtocols, historicalBytes, historicalError, tck, output: text };
}

export async function analyseWithReference(atr: string, cacheDir: string): Promise<ReferenceAnalysis> {
  const { stdout } = await run(ATR_ANALYSIS, [atr], {
    env: { ...process.env, XDG_CACHE_HOME: cacheDir, LC_ALL: "C" },
    timeout: 20_000,
  });
  return parseReferenceOutput(stdout);
}

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping results in input order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** The comparison is part of `make test`: missing tools are a failure, never a skip. */
export function requireReferenceTools(paths: readonly string[] = [ATR_ANALYSIS, SMARTCARD_LIST]): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new Error(
      `missing ${missing.join(" and ")}: this comparison needs pcsc-tools; \`make test\` installs pcsc-tools`,
    );
  }
}
