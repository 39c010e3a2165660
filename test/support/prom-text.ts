/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: it throws,
 * naming the line, on anything a scraper could misread — a bad name, label or escape, a value that
 * is not a float, a sample before its TYPE or apart from its family, a duplicate series, a
 * histogram whose buckets are not cumulative or whose +Inf bucket is not its count.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help: string | undefined;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(["counter", "gauge", "histogram", "summary", "untyped"]);

export function parsePromText(text: string): Map<string, Family> {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("exposition text must end with a line feed");
  const families = new Map<string, Family>();
  const closed = new Set<string>();
  const series = new Set<string>();
  const typed = new Set<string>();
  let current: Family | undefined;
  const lines = text.split("\n").slice(0, -1);
  lines.forEach((line, i) => {
    const at = `line ${i + 1} (${JSON.stringify(line.slice(0, 80))})`;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) return; // A plain comment.
      const [, kind, name = "", rest = ""] = m;
      if (!NAME.test(name)) throw new Error(`${at}: bad metric name`);
      const family = open(name, at);
      if (kind === "HELP") {
        if (family.help !== undefined) throw new Error(`${at}: second HELP for ${name}`);
        family.help = unescapeText(rest, false, at);
      } else {
        if (!TYPES.has(rest as MetricType)) throw new Error(`${at}: unknown type ${rest}`);
        if (family.samples.length > 0) throw new Error(`${at}: TYPE after samples of ${name}`);
        family.type = rest as MetricType;
        typed.add(name);
      }
      return;
    }
    if (line === "") return; // The format ignores empty lines; prom-client puts one between families.
    if (line.trim() === "") throw new Error(`${at}: a line of only white space`);
    const sample = parseSample(line, at);
    const family = familyOf(sample.name);
    if (family === undefined || !typed.has(family.name))
      throw new Error(`${at}: sample ${sample.name} before its family's TYPE`);
    if (family !== current) throw new Error(`${at}: sample of ${family.name} apart from its family`);
    const key = `${sample.name}{${Object.entries(sample.labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}}`;
    if (series.has(key)) throw new Error(`${at}: duplicate series ${key}`);
    series.add(key);
    family.samples.push(sample);
  });
  for (const f of families.values()) {
    if (f.type === "counter" && f.samples.some((s) => s.value < 0 || Number.isNaN(s.value)))
      throw new Error(`counter ${f.name} has a negative or NaN value`);
    if (f.type === "histogram") checkHistogram(f);
  }
  return families;

  function open(name: string, at: string): Family {
    let f = families.get(name);
    if (f === undefined) {
      if (current !== undefined) closed.add(current.name);
      f = { name, type: "untyped", help: undefined, samples: [] };
      families.set(name, f);
    } else if (closed.has(name) || f !== current)
      throw new Error(`${at}: ${name} continues after another family`);
    current = f;
    return f;
  }
  function familyOf(sampleName: string): Family | undefined {
    const direct = families.get(sampleName);
    if (direct !== undefined && direct.type !== "histogram" && direct.type !== "summary") return direct;
    for (const suffix of ["_bucket", "_sum", "_count"]) {
      if (!sampleName.endsWith(suffix)) continue;
      const f = families.get(sampleName.slice(0, -suffix.length));
      if (f !== undefined && (f.type === "histogram" || (f.type === "summary" && suffix !== "_bucket")))
        return f;
    }
    return direct?.type === "summary" ? direct : undefined;
  }
}
function parseSample(line: string, at: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)(?: (-?[0-9]+))?$/.exec(line);
  if (m === null) throw new Error(`${at}: not a sample line`);
  const [, name = "", block, raw = ""] = m;
  return {
    name,
    labels: block === undefined ? {} : parseLabels(block.slice(1, -1), at),
    value: float(raw, at),
  };
}

function parseLabels(body: string, at: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf("=", i);
    if (eq < 0) throw new Error(`${at}: label without a value`);
    const name = body.slice(i, eq);
    if (!LABEL.test(name) || name.startsWith("__")) throw new Error(`${at}: bad label name ${name}`);
    if (name in labels) throw new Error(`${at}: label ${name} twice`);
    if (body[eq + 1] !== '"') throw new Error(`${at}: label value not quoted`);
    let j = eq + 2;
    let raw = "";
    for (; j < body.length && body[j] !== '"'; j++) {
      raw += body[j];
      if (body[j] === "\\") raw += body[++j] ?? "";
    }
    if (j >= body.length) throw new Error(`${at}: unterminated label value`);
    labels[name] = unescapeText(raw, true, at);
    i = j + 1;
    if (body[i] === ",") i++;
    else if (i < body.length) throw new Error(`${at}: expected , between labels`);
  }
  return labels;
}

function unescapeText(s: string, quoted: boolean, at: string): string {
  return s.replace(/\\(.?)/g, (_all, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && quoted) return '"';
    throw new Error(`${at}: bad escape \\${c}`);
  });
}

function float(raw: string, at: string): number {
  if (raw === "+Inf" || raw === "Inf") return Number.POSITIVE_INFINITY;
  if (raw === "-Inf") return Number.NEGATIVE_INFINITY;
  if (raw === "NaN") return Number.NaN;
  if (!/^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(raw))
    throw new Error(`${at}: value ${raw} is not a float`);
  return Number(raw);
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${f.name}: a bucket without le`);
      g.buckets.push([float(le, f.name), s.value]);
    } else if (s.name.endsWith("_count")) g.count = s.value;
    else g.sum = s.value;
  }
  for (const g of groups.values()) {
    const last = g.buckets.at(-1);
    if (last === undefined || last[0] !== Number.POSITIVE_INFINITY)
      throw new Error(`${f.name}: no +Inf bucket last`);
    if (g.count === undefined || g.sum === undefined) throw new Error(`${f.name}: _count or _sum missing`);
    if (last[1] !== g.count) throw new Error(`${f.name}: +Inf bucket ${last[1]} is not _count ${g.count}`);
    for (let k = 1; k < g.buckets.length; k++) {
      const [le, n] = g.buckets[k] as [number, number];
      const [prevLe, prevN] = g.buckets[k - 1] as [number, number];
      if (le <= prevLe || n < prevN) throw new Error(`${f.name}: buckets not ordered and cumulative`);
    }
  }
}

/** The one sample of `name` whose labels include `labels`; 0 when the series is not exposed yet. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  for (const f of families.values())
    for (const s of f.samples)
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
  return 0;
}
