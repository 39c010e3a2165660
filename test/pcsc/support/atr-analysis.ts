import { execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const ATR_ANALYSIS = "/usr/bin/ATR_analysis";
export const SMARTCARD_LIST = "/usr/share/pcsc/smartcard_list.txt";
const BATCH_SCRIPT = fileURLToPath(new URL("./atr-analysis-batch.pl", import.meta.url));
const END_OF_ANALYSIS = "\n=== end of analysis ===\n";

/** What the reference analyser printed about one ATR. */
export interface ReferenceAnalysis {
  /** T of every TDi line, in order. */
  indicatedProtocols: number[];
  /** Undefined when the analyser stopped inside the interface bytes. */
  historicalBytes: string | undefined;
  historicalError: "truncated" | "too-long" | undefined;
  tck: { value: number; valid: boolean } | undefined;
  /** TA(i) lines the analyser read as clock stop and class indicator, by i. */
  classIndicators: Map<number, { clockStop: string; classes: string[] }>;
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
 * name and, the list being less than 10 hours old, does not try to download a newer one. A
 * `bin/` with failing wget and curl stands first on PATH in case it tried anyway: the run stays
 * offline and cannot hang on the network.
 */
export function offlineCacheDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "termhost-atr-analysis-"));
  const list = join(dir, "smartcard_list.txt");
  writeFileSync(list, "");
  const now = new Date();
  utimesSync(list, now, now);
  mkdirSync(join(dir, "bin"));
  for (const tool of ["wget", "curl"]) {
    writeFileSync(join(dir, "bin", tool), "#!/bin/sh\necho 'offline: no download in tests' >&2\nexit 1\n");
    chmodSync(join(dir, "bin", tool), 0o755);
  }
  return dir;
}

function offlineEnv(cacheDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    XDG_CACHE_HOME: cacheDir,
    PATH: `${join(cacheDir, "bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    LC_ALL: "C",
  };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the analyser colours its output with ANSI escapes
const ANSI = /\u001b\[[0-9;]*m/g;

export function parseReferenceOutput(output: string): ReferenceAnalysis {
  const text = output.replace(ANSI, "");
  const indicatedProtocols: number[] = [];
  let historicalBytes: string | undefined;
  let historicalError: ReferenceAnalysis["historicalError"];
  let tck: ReferenceAnalysis["tck"];
  const classIndicators: ReferenceAnalysis["classIndicators"] = new Map();
  for (const line of text.split("\n")) {
    const ta =
      /^\s*TA\((\d+)\) = [0-9A-F]{2} --> Clock stop: (.*) - Class accepted by the card: \(3G\) ?(.*)$/.exec(
        line,
      );
    if (ta?.[1] !== undefined && ta[2] !== undefined) {
      const classes = [...(ta[3] ?? "").matchAll(/([A-E]) (?:[0-9.]+V|RFU)/g)].map((m) => m[1] ?? "");
      classIndicators.set(Number(ta[1]), { clockStop: ta[2], classes });
    }
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
  return { indicatedProtocols, historicalBytes, historicalError, tck, classIndicators, output: text };
}

/** One run of the analyser as a user would start it. */
export async function analyseWithReference(atr: string, cacheDir: string): Promise<ReferenceAnalysis> {
  const { stdout } = await run(ATR_ANALYSIS, [atr], { env: offlineEnv(cacheDir), timeout: 20_000 });
  return parseReferenceOutput(stdout);
}

/** A hang guard only: the whole list takes seconds; a stuck analyser is killed, never left behind. */
const BATCH_TIMEOUT_MS = 180_000;

/** The analyser's raw output for each of `atrs`, in one Perl process (see atr-analysis-batch.pl). */
function analyseChunk(atrs: readonly string[], cacheDir: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("perl", [BATCH_SCRIPT, ATR_ANALYSIS], {
      env: offlineEnv(cacheDir),
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    let errTail = "";
    child.stdout.on("data", (b: Buffer) => out.push(b));
    // The analyser warns about uninitialised values on odd historical bytes; only kept for a failure.
    child.stderr.on("data", (b: Buffer) => {
      errTail = (errTail + b.toString("latin1")).slice(-2000);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), BATCH_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const parts = Buffer.concat(out).toString("latin1").split(END_OF_ANALYSIS);
      const tail = parts.pop();
      if (code !== 0 || tail !== "" || parts.length !== atrs.length) {
        reject(
          new Error(
            `ATR_analysis batch: exit ${code ?? signal}, ${parts.length} of ${atrs.length} analyses; stderr: ${errTail}`,
          ),
        );
        return;
      }
      resolve(parts);
    });
    child.stdin.end(`${atrs.join("\n")}\n`);
  });
}

/**
 * The analyser on every ATR of `atrs`, split over `workers` Perl processes: far quicker than one
 * process per ATR, which spends most of its time starting Perl.
 */
export async function analyseManyWithReference(
  atrs: readonly string[],
  cacheDir: string,
  workers = 2,
): Promise<ReferenceAnalysis[]> {
  const size = Math.ceil(atrs.length / workers);
  const chunks = Array.from({ length: workers }, (_, i) => atrs.slice(i * size, (i + 1) * size));
  const outputs = await Promise.all(chunks.map((c) => (c.length === 0 ? [] : analyseChunk(c, cacheDir))));
  return outputs.flat().map(parseReferenceOutput);
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
