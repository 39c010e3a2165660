import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/daemon/config.js";

function problems(raw: unknown): unknown {
  try {
    parseConfig(raw, "test.json");
  } catch (e) {
    return (e as { context: { problems: string[] } }).context.problems;
  }
  return [];
}

describe("scale configuration", () => {
  it("defaults to a USB HID scale and the profiles' rate tables", () => {
    expect(parseConfig({}, "test.json").scale).toEqual({
      transport: { kind: "hid" },
      reportTimeoutMs: 1000,
      reconnectInitialMs: 500,
      reconnectMaxMs: 10_000,
      rates: {},
    });
  });

  it("takes a socket transport with its paths", () => {
    const c = parseConfig({ scale: { transport: { kind: "socket", paths: ["/run/s.sock"] } } }, "test.json");
    expect(c.scale.transport).toEqual({ kind: "socket", paths: ["/run/s.sock"], helloTimeoutMs: 1000 });
  });

  it("names the field of a bad transport", () => {
    expect(problems({ scale: { transport: { kind: "socket", paths: [] } } })).toEqual([
      expect.stringContaining("scale.transport.paths"),
    ]);
    expect(problems({ scale: { transport: { kind: "usb" } } })).toEqual([
      expect.stringContaining("scale.transport.kind"),
    ]);
    expect(problems({ scale: { transport: { kind: "hid", paths: ["/x"] } } })).toEqual([
      expect.stringContaining("paths"),
    ]);
  });
});
