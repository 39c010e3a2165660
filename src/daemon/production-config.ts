import { realpathSync } from "node:fs";
import { TermhostError } from "../errors/errors.js";
import type { MeterProfile } from "../postage/meter/profile.js";
import { isWellKnownTestKey } from "../purse/messages/well-known-keys.js";
import type { Config } from "./config.js";
import { DEFAULT_TERMINAL_ID } from "./value-config.js";

/** The profile device-profiles/ ships for the meter simulator: a real meter never uses it. */
export const SIMULATED_METER_PROFILE = "termhost simulated meter";

const ON_A_RIG = "on a test rig, set mode: simulation";

function at(path: readonly (string | number)[]): string {
  return path.join(".");
}

/** Every string leaf with its path: a key field added later is covered without being listed here. */
function* strings(value: unknown, path: (string | number)[] = []): Generator<[string, string]> {
  if (typeof value === "string") yield [at(path), value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, i]);
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}

/**
 * What production mode refuses in the configuration itself, each with its own code; empty in
 * simulation mode. The daemon prints every one and exits before it opens a journal or a device.
 */
export function productionRefusals(config: Config): TermhostError[] {
  if (config.mode !== "production") return [];
  const refusals: TermhostError[] = [];
  for (const [field, value] of strings(config)) {
    // The value is left out on purpose: a key is a secret even when it is a public one.
    if (isWellKnownTestKey(value))
      refusals.push(
        new TermhostError("TEST_KEY_IN_PRODUCTION", `${field}: one of the simulators' published test keys`, {
          hint: `set the key or token issued for this terminal; the simulators' keys are public (${ON_A_RIG})`,
          context: { field },
        }),
      );
  }
  if (config.value.terminalId.toUpperCase() === DEFAULT_TERMINAL_ID)
    refusals.push(
      new TermhostError(
        "DEFAULT_TERMINAL_ID_IN_PRODUCTION",
        `value.terminalId: the built-in default ${DEFAULT_TERMINAL_ID} is the simulators' terminal`,
        {
          hint: `set value.terminalId to the 8-byte id the card issuer assigned to this terminal (${ON_A_RIG})`,
          context: { field: "value.terminalId" },
        },
      ),
    );
  const simulated = (field: string, what: string, hint: string): void => {
    refusals.push(
      new TermhostError("SIMULATED_DEVICE_IN_PRODUCTION", `${field}: ${what}`, {
        hint: `${hint} (${ON_A_RIG})`,
        context: { field },
      }),
    );
  };
  if (config.scale.transport.kind === "socket")
    simulated(
      "scale.transport",
      "a scale on Unix sockets is the scale simulator",
      'use {kind: "hid"} for a USB scale, or {kind: "none"}',
    );
  config.postage.meters.forEach((m, i) => {
    if (m.profile === SIMULATED_METER_PROFILE)
      simulated(
        `postage.meters.${i}.profile`,
        `'${SIMULATED_METER_PROFILE}' is the meter simulator's profile`,
        "name the profile of the meter model in <profiles.dir>/meters",
      );
    if (m.vendorKey !== undefined)
      simulated(
        `postage.meters.${i}.vendorKey`,
        "a vendor key on the host signs refills without the vendor: for a simulated meter only",
        "remove it; refills of a real meter carry the vendor's authorization",
      );
  });
  const a = config.value.authorizer;
  if (a.kind === "issuer" && new URL(a.url).protocol !== "https:")
    refusals.push(
      new TermhostError(
        "CLEARTEXT_ISSUER_IN_PRODUCTION",
        "value.authorizer.url: the issuer host must be reached over https: in production",
        {
          hint: `use the issuer's https: URL, with caFile for a private CA (${ON_A_RIG})`,
          context: { field: "value.authorizer.url" },
        },
      ),
    );
  const db = config.fleet?.database;
  if (db !== undefined && !db.host.startsWith("/") && db.tls === undefined)
    refusals.push(
      new TermhostError(
        "CLEARTEXT_FLEET_DATABASE_IN_PRODUCTION",
        "fleet.database: a database over the network must be reached over TLS in production",
        {
          hint: `set fleet.database.tls.caFile (and a client certificate), or use the server's unix socket directory as host (${ON_A_RIG})`,
          context: { field: "fleet.database.tls", host: db.host },
        },
      ),
    );
  return refusals;
}

/** Linux puts every pseudo-terminal under /dev/pts; an unplugged adapter (no file yet) is not one. */
export function isPseudoTerminal(port: string): boolean {
  try {
    return realpathSync(port).startsWith("/dev/pts/");
  } catch {
    return false;
  }
}

/**
 * A meter whose line is a pseudo-terminal is a simulator behind socat (every rig attaches it so):
 * a real meter is on a serial or USB-serial device. Checked at start, where the profiles are known.
 */
export function meterLineRefusals(config: Config, profiles: readonly MeterProfile[]): TermhostError[] {
  if (config.mode !== "production") return [];
  const refusals: TermhostError[] = [];
  config.postage.meters.forEach((m, i) => {
    const port = m.port ?? profiles.find((p) => p.name === m.profile)?.port;
    if (port === undefined || !isPseudoTerminal(port)) return;
    const field = m.port === undefined ? `postage.meters.${i}.profile` : `postage.meters.${i}.port`;
    refusals.push(
      new TermhostError(
        "SIMULATED_DEVICE_IN_PRODUCTION",
        `${field}: ${port} is a pseudo-terminal, the line of a simulated meter`,
        {
          hint: `set the meter's serial device, e.g. its /dev/serial/by-id path (${ON_A_RIG})`,
          context: { field, port },
        },
      ),
    );
  });
  return refusals;
}
