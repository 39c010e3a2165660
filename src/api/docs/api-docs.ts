import { z } from "zod";
import { ErrorCode } from "../../errors/errors.js";

export const BEGIN_MARKER = "<!-- BEGIN GENERATED: methods (src/api/docs/gen-api-docs.ts) -->";
export const END_MARKER = "<!-- END GENERATED: methods -->";

type Spec = { description: string; params: z.ZodType; result: z.ZodType };
type NotificationSpec = { description: string; params: z.ZodType };

export interface ApiTables {
  /** Methods both sockets serve. */
  kiosk: Record<string, Spec>;
  /** Methods only the technician's socket serves. */
  admin: Record<string, Spec>;
  notifications: Record<string, NotificationSpec>;
}

type JsonSchema = Record<string, unknown>;

function schemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

interface MethodEntry {
  name: string;
  sockets: string[];
  description: string;
  params: JsonSchema;
  result: JsonSchema;
}

function entries(tables: ApiTables): MethodEntry[] {
  const list = (table: Record<string, Spec>, sockets: string[]): MethodEntry[] =>
    Object.entries(table).map(([name, spec]) => ({
      name,
      sockets,
      description: spec.description,
      params: schemaOf(spec.params, "input"),
      result: schemaOf(spec.result, "output"),
    }));
  return [...list(tables.kiosk, ["api.sock", "admin.sock"]), ...list(tables.admin, ["admin.sock"])].sort(
    (a, b) => a.name.localeCompare(b.name),
  );
}

const fence = (value: unknown): string => `\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\``;

/** The generated part of docs/api.md: every method and notification, from the schemas. */
export function renderMethodsMarkdown(tables: ApiTables): string {
  const methods = entries(tables);
  const out: string[] = [BEGIN_MARKER, "", "## Methods", ""];
  out.push("| method | sockets | what it does |", "|---|---|---|");
  for (const m of methods) out.push(`| \`${m.name}\` | ${m.sockets.join(", ")} | ${m.description} |`);
  out.push("");
  for (const m of methods) {
    out.push(
      `### \`${m.name}\``,
      "",
      m.description,
      "",
      `Sockets: ${m.sockets.map((s) => `\`${s}\``).join(", ")}.`,
      "",
    );
    out.push("Params:", "", fence(m.params), "", "Result:", "", fence(m.result), "");
  }
  out.push("## Notifications", "", "Sent by the daemon without `id`; never answered.", "");
  for (const [name, spec] of Object.entries(tables.notifications).sort(([a], [b]) => a.localeCompare(b))) {
    out.push(
      `### \`${name}\``,
      "",
      spec.description,
      "",
      "Params:",
      "",
      fence(schemaOf(spec.params, "output")),
      "",
    );
  }
  out.push("## Error codes", "", "Every value `error.data.code` can take:", "");
  out.push(
    Object.values(ErrorCode)
      .map((c) => `\`${c}\``)
      .join(", "),
    "",
  );
  out.push(END_MARKER);
  return out.join("\n");
}

/** Replaces what lies between the markers (or appends the block), keeping the hand-written text. */
export function spliceGenerated(document: string, generated: string): string {
  const begin = document.indexOf(BEGIN_MARKER);
  const end = document.indexOf(END_MARKER);
  if (begin === -1 || end === -1 || end < begin) return `${document.trimEnd()}\n\n${generated}\n`;
  return `${document.slice(0, begin)}${generated}${document.slice(end + END_MARKER.length)}`;
}

/**
 * One JSON Schema for the whole API, for clients not written in TypeScript: the top level validates
 * a request line; `$defs` hold each method's params and result and each notification's params;
 * `x-termhost` lists methods with their sockets and descriptions, and the error codes.
 */
export function renderApiSchema(tables: ApiTables): JsonSchema {
  const methods = entries(tables);
  const defs: Record<string, JsonSchema> = {};
  for (const m of methods) {
    defs[`${m.name}.params`] = m.params;
    defs[`${m.name}.result`] = m.result;
  }
  const notifications = Object.entries(tables.notifications).sort(([a], [b]) => a.localeCompare(b));
  for (const [name, spec] of notifications)
    defs[`notification:${name}.params`] = schemaOf(spec.params, "output");
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://termhost.invalid/api.schema.json",
    title: "termhost socket API request",
    description:
      "JSON-RPC 2.0, one object per line, on api.sock (kiosk/POS) and admin.sock (technicians). Generated from the zod schemas in src/api/schemas.",
    oneOf: methods.map((m) => ({
      type: "object",
      properties: {
        jsonrpc: { const: "2.0" },
        id: { anyOf: [{ type: "string", maxLength: 200 }, { type: "integer" }] },
        method: { const: m.name },
        params: { $ref: `#/$defs/${m.name}.params` },
      },
      required: ["jsonrpc", "method"],
      additionalProperties: false,
    })),
    $defs: defs,
    "x-termhost": {
      methods: Object.fromEntries(
        methods.map((m) => [
          m.name,
          {
            sockets: m.sockets,
            description: m.description,
            params: { $ref: `#/$defs/${m.name}.params` },
            result: { $ref: `#/$defs/${m.name}.result` },
          },
        ]),
      ),
      notifications: Object.fromEntries(
        notifications.map(([name, spec]) => [
          name,
          { description: spec.description, params: { $ref: `#/$defs/notification:${name}.params` } },
        ]),
      ),
      errorCodes: Object.values(ErrorCode),
    },
  };
}
