import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { z } from "zod";
import { formatZodIssues } from "../../src/errors/zod-format.js";
import { errorReply } from "./issuer-core.js";
import type { Reply } from "./sessions.js";

/** The issuer host's HTTP surface: which route a request names, its JSON body, its bearer token. */

export type ApiRoute =
  | { kind: "api"; op: "open" }
  | { kind: "api"; op: "verify" | "authorize" | "end"; id: string }
  | { kind: "api"; op: "complete" | "reversal"; authorizationId: number }
  | { kind: "api"; op: "find"; authorizationId: number | undefined };
export type AdminRoute = { kind: "admin"; name: "ledger" | "get-behaviour" | "set-behaviour" | "release" };

export function routeOf(method: string, path: string): ApiRoute | AdminRoute | undefined {
  const parts = path.split("/").filter((p) => p.length > 0);
  const [a, b, c] = parts;
  const key = `${method} ${parts.length}`;
  if (a === "sessions") {
    if (key === "POST 1") return { kind: "api", op: "open" };
    if (b !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(b) && method === "POST" && parts.length === 3) {
      if (c === "verify" || c === "authorize") return { kind: "api", op: c, id: b };
    }
    if (b !== undefined && /^[A-Za-z0-9_-]{1,64}$/.test(b) && key === "DELETE 2") {
      return { kind: "api", op: "end", id: b };
    }
    return undefined;
  }
  if (a === "authorizations") {
    if (key === "GET 1") return { kind: "api", op: "find", authorizationId: undefined };
    const id = b !== undefined && /^[1-9]\d{0,9}$/.test(b) ? Number(b) : undefined;
    if (id === undefined || id > 0xffffffff) return undefined;
    if (key === "GET 2") return { kind: "api", op: "find", authorizationId: id };
    if (method === "POST" && parts.length === 3 && (c === "complete" || c === "reversal")) {
      return { kind: "api", op: c, authorizationId: id };
    }
    return undefined;
  }
  if (key === "GET 1" && a === "ledger") return { kind: "admin", name: "ledger" };
  if (a === "admin" && parts.length === 2) {
    if (b === "behaviour" && method === "GET") return { kind: "admin", name: "get-behaviour" };
    if (b === "behaviour" && method === "PUT") return { kind: "admin", name: "set-behaviour" };
    if (b === "release" && method === "POST") return { kind: "admin", name: "release" };
  }
  return undefined;
}

export function validated<S extends z.ZodType>(
  schema: S,
  body: unknown,
  then: (v: z.infer<S>) => Reply,
): Reply {
  const parsed = schema.safeParse(body);
  if (!parsed.success) return errorReply("INVALID_REQUEST", formatZodIssues(parsed.error).join("; "));
  return then(parsed.data);
}

/** The request body as JSON (undefined when empty), or the refusal to answer. */
export async function readJson(req: IncomingMessage, limit: number): Promise<{ value: unknown } | Reply> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return errorReply("PAYLOAD_TOO_LARGE", `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return { value: undefined };
  try {
    return { value: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown };
  } catch {
    return errorReply("INVALID_REQUEST", "request body is not JSON");
  }
}

export function bearerOf(req: IncomingMessage): string | undefined {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? "");
  return m?.[1];
}

/** Tokens are compared as digests so the comparison time says nothing about the token. */
export function digest(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function sameDigest(a: string, b: string): boolean {
  return timingSafeEqual(Buffer.from(a, "hex"), Buffer.from(b, "hex"));
}
