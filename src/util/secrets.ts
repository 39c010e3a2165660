/**
 * Field names whose values are secrets: keys, bearer tokens, authorization codes (a vendor's
 * refill authorization, a card's S2). A field named so is never printed or logged, at any depth.
 */
export const SECRET_FIELDS = [
  "terminalToken",
  "adminToken",
  "token",
  "vendorKey",
  "masterKey",
  "macKey",
  "authorization",
  "s2",
] as const;

export const REDACTED = "[redacted]";

const secret = new Set<string>(SECRET_FIELDS);

/** A copy of `value` with every secret field's value replaced: shows that it is set, not what it is. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      secret.has(k) && v !== undefined ? REDACTED : redactSecrets(v),
    ]),
  );
}

/**
 * pino's redaction paths for the same fields. Its paths have a fixed depth, so each name is listed
 * at the top and up to `depth` fields down (a configuration logged whole reaches a key at 4).
 */
export function secretLogPaths(depth = 6): string[] {
  const paths: string[] = [];
  for (const name of SECRET_FIELDS)
    for (let d = 0; d <= depth; d++) paths.push([...Array<string>(d).fill("*"), name].join("."));
  return paths;
}
