import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { TermhostError } from "../../src/errors/errors.js";
import { KioskScenario } from "./kiosk-scenario.js";

/** Where a value sits in the file, when the format can say (YAML): " (line N)". */
type Locate = (path: readonly PropertyKey[]) => string;

function parseText(file: string, text: string): { value: unknown; locate: Locate } {
  if (extname(file).toLowerCase() === ".json") {
    try {
      return { value: JSON.parse(text) as unknown, locate: () => "" };
    } catch (e) {
      throw scenarioError(file, [`not valid JSON: ${(e as Error).message}`]);
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw scenarioError(
      file,
      doc.errors.map((e) => `line ${e.linePos?.[0].line ?? "?"}: ${e.message.split("\n")[0]}`),
    );
  }
  const locate: Locate = (path) => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) return ` (line ${lines.linePos(node.range[0]).line})`;
    }
    return "";
  };
  return { value: doc.toJS() as unknown, locate };
}

function describeIssue(issue: z.core.$ZodIssue, locate: Locate): string[] {
  const at = (p: readonly PropertyKey[]): string =>
    p.length === 0 ? "(top level)" : p.map(String).join(".");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map(
      (k) =>
        `${at([...issue.path, k])}${locate(issue.path)}: unknown key; expected one of the documented keys`,
    );
  }
  const message = issue.message.replace(/^Invalid (input|option): /, "");
  return [`${at(issue.path)}${locate(issue.path)}: ${message}`];
}

function scenarioError(file: string, problems: string[]): TermhostError {
  return new TermhostError("CONFIG_INVALID", `${file}: invalid scenario:\n  ${problems.join("\n  ")}`, {
    hint: "see docs/hil.md for the scenario format and docs/examples/kiosk-scenario.yaml",
    context: { file, problems },
  });
}

/** Reads and validates a scenario file (.json, or YAML otherwise); every problem names its place. */
export function loadKioskScenario(file: string): KioskScenario {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw scenarioError(file, [`cannot read: ${(e as Error).message}`]);
  }
  return parseKioskScenario(file, text);
}

export function parseKioskScenario(file: string, text: string): KioskScenario {
  const { value, locate } = parseText(file, text);
  const parsed = KioskScenario.safeParse(value);
  if (!parsed.success) {
    throw scenarioError(
      file,
      parsed.error.issues.flatMap((i) => describeIssue(i, locate)),
    );
  }
  return parsed.data;
}
