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

/** Deeper than any configuration or log object; it also ends the walk of a cyclic one. */
const MAX_DEPTH = 16;

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every secret field's value replaced: shows that it is set, not what it is. Only
 * arrays and plain objects are walked (an Error or a Buffer is left to its serializer), and what
 * holds no secret is returned as it is, so a log line without one costs a walk and no copy.
 */
export function redactSecrets<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const r = redactSecrets(v, depth + 1);
      if (r === v) return;
      out ??= [...value];
      out[i] = r;
    });
    return (out ?? value) as T;
  }
  if (!isPlain(value)) return value;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const r = secret.has(k) && v !== undefined ? REDACTED : redactSecrets(v, depth + 1);
    if (r === v) continue;
    out ??= { ...(value as Record<string, unknown>) };
    out[k] = r;
  }
  return (out ?? value) as T;
}
