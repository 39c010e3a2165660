import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import { defaultConfig, parseConfig } from "./config.js";

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
      value: { authorizer: { kind: "issuer", url: "http://issuer.test", terminalToken: "t".repeat(16) } },
    };
    expect(() => parseConfig(rig, "f.json")).toThrow(
      /postage\.meters\.0\.vendorKey: a vendor key on the host/,
    );
    expect(() => parseConfig(rig, "f.json")).toThrow(
      /value\.authorizer\.url: the issuer host must be reached over https:/,
    );
    expect(defaultConfig().mode).toBe("production");
    const sim = parseConfig({ ...rig, mode: "simulation" }, "f.json");
    expect(sim.postage.meters[0]?.vendorKey).toBe("00".repeat(16));
    expect(() =>
      parseConfig(
        { value: { authorizer: { ...rig.value.authorizer, url: "https://issuer.test" } } },
        "f.json",
      ),
    ).not.toThrow();
  });
});
