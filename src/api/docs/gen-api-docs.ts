#!/usr/bin/env node
/**
 * Regenerates docs/api.md (between its markers) and docs/api.schema.json from the method schemas.
 * `--check` writes nothing and exits 1 when either file is out of date.
 */
import { readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { projectRoot } from "../../util/paths.js";
import { AdminMethods, ApiMethods, ApiNotifications } from "../schemas/index.js";
import { type ApiTables, renderApiSchema, renderMethodsMarkdown, spliceGenerated } from "./api-docs.js";

export const REGENERATE_COMMAND =
  "node_modules/.bin/tsc -p tsconfig.build.json && node dist/src/api/docs/gen-api-docs.js";

export const apiTables: ApiTables = {
  kiosk: ApiMethods,
  admin: AdminMethods,
  notifications: ApiNotifications,
};

/** What docs/api.md and docs/api.schema.json must hold, given the current hand-written text. */
export function expectedDocs(root = projectRoot()): { markdown: string; schema: string } {
  const current = readFileSync(join(root, "docs", "api.md"), "utf8");
  return {
    markdown: spliceGenerated(current, renderMethodsMarkdown(apiTables)),
    schema: `${JSON.stringify(renderApiSchema(apiTables), null, 2)}\n`,
  };
}

function main(): void {
  const root = projectRoot();
  const { markdown, schema } = expectedDocs(root);
  const files: Array<[string, string]> = [
    [join(root, "docs", "api.md"), markdown],
    [join(root, "docs", "api.schema.json"), schema],
  ];
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [path, text] of files) {
    let old = "";
    try {
      old = readFileSync(path, "utf8");
    } catch {
      // a missing file is written (or reported stale)
    }
    if (old === text) continue;
    stale++;
    if (check) process.stderr.write(`${path} is out of date\n`);
    else writeFileSync(path, text);
  }
  if (check && stale > 0) {
    process.stderr.write(`regenerate with: ${REGENERATE_COMMAND}\n`);
    process.exit(1);
  }
  if (!check) process.stdout.write(`docs/api.md and docs/api.schema.json: ${stale} file(s) rewritten\n`);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) main();
