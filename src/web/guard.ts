import type { IncomingHttpHeaders } from "node:http";

/**
 * The checks every request to a loopback web listener passes before anything else, so that a web
 * page from elsewhere cannot use the kiosk's devices through the user's browser:
 *
 * - Host must name the loopback interface with the listener's own port. A DNS-rebinding attack
 *   makes `attacker.example` resolve to 127.0.0.1; the browser then sends `Host: attacker.example`,
 *   which is refused here before any page, ticket or socket is served.
 * - Origin (when `requireOrigin`) must be exactly the configured origin, and a request without one
 *   is refused: browsers do not apply CORS to WebSocket handshakes, so this check is what stops
 *   cross-site WebSocket hijacking; a missing Origin must not be read as "not a browser, let it in".
 */
export type GuardVerdict = { ok: true } | { ok: false; status: 403 | 421; reason: string };

const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

export function loopbackHosts(port: number): Set<string> {
  return new Set(LOOPBACK_NAMES.map((n) => `${n}:${port}`));
}

export function checkHost(headers: IncomingHttpHeaders, port: number): GuardVerdict {
  const host = headers.host?.toLowerCase();
  if (host === undefined || !loopbackHosts(port).has(host)) {
    return { ok: false, status: 421, reason: "Host is not this listener's loopback address and port" };
  }
  return { ok: true };
}

export function checkOrigin(headers: IncomingHttpHeaders, origin: string): GuardVerdict {
  const got = headers.origin;
  if (got === undefined) return { ok: false, status: 403, reason: "request has no Origin" };
  if (got !== origin) return { ok: false, status: 403, reason: "Origin is not the configured one" };
  return { ok: true };
}

/** Host always; Origin too for anything that acts (a ticket, a session, a WebSocket). */
export function guard(
  headers: IncomingHttpHeaders,
  port: number,
  origin: string,
  requireOrigin: boolean,
): GuardVerdict {
  const host = checkHost(headers, port);
  if (!host.ok || !requireOrigin) return host;
  return checkOrigin(headers, origin);
}
