import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { SIMULATOR_MASTER_KEY_HEX } from "../purse/messages/well-known-keys.js";
import { defaultConfig, parseConfig } from "./config.js";
import { productionRefusals } from "./production-config.js";

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw, "test.json");
  } catch (e) {
    if (isTermhostError(e, "CONFIG_INVALID")) return (e.context?.problems as string[]) ?? [];
    throw e;
  }
  return [];
}

describe("config", () => {
  it("fills every default for an empty object", () => {
    const c = defaultConfig();
    expect(c.api.maxLineBytes).toBe(256 << 10);
    expect(c.api.socketMode).toBe(0o660);
    expect(c.pcsc.socketPath).toBeUndefined();
  });

  it("parses an octal socket mode", () => {
    expect(parseConfig({ api: { socketMode: "0600" } }, "x").api.socketMode).toBe(0o600);
    expect(problemsOf({ api: { socketMode: "rw-rw----" } })).toEqual([
      'api.socketMode: expected an octal file mode such as "0660"',
    ]);
  });

  it("names every bad field at once", () => {
    const problems = problemsOf({ logLevel: 3, api: { maxConnections: 0, extra: true }, pcsc: [] });
    expect(problems).toHaveLength(4);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^logLevel: expected one of .*"info"/),
        "api.extra: unknown key",
        expect.stringMatching(/^api\.maxConnections: .*>=1/),
        "pcsc: expected object, received array",
      ]),
    );
  });

  it("bounds the postage retention settings, naming each field", () => {
    expect(defaultConfig().postage).toMatchObject({
      retainFinishedDays: 30,
      retainFinishedBatches: 20_000,
      retainFinishedPieces: 100_000,
    });
    const problems = problemsOf({
      postage: { retainFinishedDays: 0, retainFinishedBatches: 1.5, retainFinishedPieces: 500_000 },
    });
    expect(problems).toHaveLength(3);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^postage\.retainFinishedDays: /),
        expect.stringMatching(/^postage\.retainFinishedBatches: /),
        expect.stringMatching(/^postage\.retainFinishedPieces: .*200000/),
      ]),
    );
  });

  it("refuses a top-level unknown key and a non-object", () => {
    expect(problemsOf({ readers: [] })).toEqual(["readers: unknown key"]);
    expect(problemsOf("hello")).toEqual(["(top level): expected object, received string"]);
  });

  it("production mode refuses a meter vendor key and a clear-text issuer host, naming the fields", () => {
    const rig = {
      postage: { meters: [{ profile: "m", vendorKey: "00".repeat(16) }] },
      value: {
        terminalId: "0011223344556677",
        authorizer: { kind: "issuer", url: "http://issuer.test", terminalToken: "t".repeat(16) },
      },
    };
    expect(refusalsOf(rig)).toEqual([
      [
        "SIMULATED_DEVICE_IN_PRODUCTION",
        expect.stringMatching(/^postage\.meters\.0\.vendorKey: a vendor key/),
      ],
      ["CLEARTEXT_ISSUER_IN_PRODUCTION", expect.stringMatching(/^value\.authorizer\.url: .* https:/)],
    ]);
    expect(defaultConfig().mode).toBe("production");
    expect(refusalsOf({ ...rig, mode: "simulation" })).toEqual([]);
    const https = {
      value: { ...rig.value, authorizer: { ...rig.value.authorizer, url: "https://issuer.test" } },
    };
    expect(refusalsOf(https)).toEqual([]);
  });

  it("production mode refuses a fleet database over the network without TLS, and takes a unix socket", () => {
    const fleet = (database: Record<string, unknown>) => ({
      value: { terminalId: "0011223344556677" },
      fleet: { kioskId: "k1", account: "fleet", database: { database: "fleet", user: "kiosk", ...database } },
    });
    expect(refusalsOf(fleet({ host: "db.example" }))).toEqual([
      ["CLEARTEXT_FLEET_DATABASE_IN_PRODUCTION", expect.stringMatching(/^fleet\.database: .* TLS/)],
    ]);
    expect(refusalsOf(fleet({ host: "db.example", tls: { caFile: "/etc/termhost/fleet-ca.pem" } }))).toEqual(
      [],
    );
    expect(refusalsOf(fleet({ host: "/run/postgresql" }))).toEqual([]);
  });

  it("production mode refuses a well-known test key in any string field, in any spelling", () => {
    const spaced = SIMULATOR_MASTER_KEY_HEX.toLowerCase().replace(/(..)/g, "$1:").slice(0, -1);
    const refusals = refusalsOf({
      value: {
        terminalId: "0011223344556677",
        authorizer: { kind: "issuer", url: "https://issuer.test", terminalToken: spaced },
      },
    });
    expect(refusals).toEqual([
      [
        "TEST_KEY_IN_PRODUCTION",
        "value.authorizer.terminalToken: one of the simulators' published test keys",
      ],
    ]);
  });

  it("production mode refuses the default terminal id in any case, and the simulated scale and meter", () => {
    expect(refusalsOf({})).toEqual([
      ["DEFAULT_TERMINAL_ID_IN_PRODUCTION", expect.stringMatching(/^value\.terminalId: /)],
    ]);
    expect(refusalsOf({ value: { terminalId: "5445524d30303031" } })).toHaveLength(1);
    const codes = refusalsOf({
      value: { terminalId: "0011223344556677" },
      scale: { transport: { kind: "socket", paths: ["/run/s.sock"] } },
      postage: { meters: [{ profile: "termhost simulated meter" }, { profile: "usb meter" }] },
    });
    expect(codes).toEqual([
      ["SIMULATED_DEVICE_IN_PRODUCTION", expect.stringMatching(/^scale\.transport: /)],
      ["SIMULATED_DEVICE_IN_PRODUCTION", expect.stringMatching(/^postage\.meters\.0\.profile: /)],
    ]);
    // The embedded default still parses (the CLI reads it); only starting the daemon refuses it.
    expect(() => defaultConfig()).not.toThrow();
  });
});

function refusalsOf(raw: Record<string, unknown>): Array<[string, string]> {
  return productionRefusals(parseConfig(raw, "f.json")).map((e) => [e.code, e.message]);
}
