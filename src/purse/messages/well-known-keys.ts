/**
 * The issuer master key the simulators use unless a scenario names another: the ASCII text
 * "TERMHOST TESTKEY". It is public, so the daemon refuses to start in production mode with it.
 */
export const SIMULATOR_MASTER_KEY_HEX = "5445524D484F535420544553544B4559";

const WELL_KNOWN = new Set([SIMULATOR_MASTER_KEY_HEX]);

/** Whether a key (hex, any case and spacing) is one of the published test keys. */
export function isWellKnownTestKey(keyHex: string): boolean {
  return WELL_KNOWN.has(keyHex.replace(/[\s:]/g, "").toUpperCase());
}
