import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { renderApiSchema, renderMethodsMarkdown, spliceGenerated } from "../../src/api/docs/api-docs.js";
import { apiTables, expectedDocs, REGENERATE_COMMAND } from "../../src/api/docs/gen-api-docs.js";
import { AdminMethods, ApiMethods } from "../../src/api/schemas/index.js";
import { projectRoot } from "../../src/util/paths.js";

describe("docs/api.md and docs/api.schema.json follow the schemas", () => {
  it("are up to date", () => {
    const { markdown, schema } = expectedDocs();
    const root = projectRoot();
    const stale = [
      readFileSync(join(root, "docs/api.md"), "utf8") === markdown ? undefined : "docs/api.md",
      readFileSync(join(root, "docs/api.schema.json"), "utf8") === schema
        ? undefined
        : "docs/api.schema.json",
    ].filter((f) => f !== undefined);
    expect(stale, `out of date; regenerate with: ${REGENERATE_COMMAND}`).toEqual([]);
  });

  it("documents every method of both sockets, with the sockets that serve it", () => {
    const doc = renderMethodsMarkdown(apiTables);
    const schema = renderApiSchema(apiTables) as {
      $defs: Record<string, unknown>;
      "x-termhost": { methods: Record<string, { sockets: string[] }> };
    };
    for (const name of Object.keys(ApiMethods)) {
      expect(doc).toContain(`### \`${name}\``);
      expect(schema["x-termhost"].methods[name]?.sockets).toEqual(["api.sock", "admin.sock"]);
      expect(schema.$defs[`${name}.params`]).toBeTypeOf("object");
      expect(schema.$defs[`${name}.result`]).toBeTypeOf("object");
    }
    for (const name of Object.keys(AdminMethods)) {
      expect(schema["x-termhost"].methods[name]?.sockets).toEqual(["admin.sock"]);
    }
  });

  it("picks up a method added to a table, params as input and result as output", () => {
    const extra = {
      "scale.weigh": {
        description: "weighs the piece on the scale",
        params: z.object({ unit: z.enum(["g", "oz"]).default("g") }).strict(),
        result: z.object({ grams: z.number().int() }),
      },
    };
    const tables = { ...apiTables, kiosk: { ...apiTables.kiosk, ...extra } };
    const doc = renderMethodsMarkdown(tables);
    expect(doc).toContain("### `scale.weigh`");
    expect(doc).toContain("weighs the piece on the scale");
    const schema = renderApiSchema(tables) as { $defs: Record<string, { required?: string[] }> };
    expect(schema.$defs["scale.weigh.params"]?.required ?? []).not.toContain("unit");
    expect(schema.$defs["scale.weigh.result"]?.required).toEqual(["grams"]);
  });

  it("keeps the hand-written text around the markers", () => {
    const generated = renderMethodsMarkdown(apiTables);
    const doc = `# Title\n\nintro\n\n${generated}\n\ntrailer\n`;
    const again = spliceGenerated(doc.replace("## Methods", "## Stale"), generated);
    expect(again).toBe(doc);
    expect(spliceGenerated("# Only intro\n", "GEN")).toBe("# Only intro\n\nGEN\n");
  });
});
