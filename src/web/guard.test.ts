import { describe, expect, it } from "vitest";
import { guard } from "./guard.js";

const ORIGIN = "http://127.0.0.1:8091";

describe("web listener guard", () => {
  it("accepts each loopback name with the listener's port and the exact origin", () => {
    for (const host of ["127.0.0.1:8091", "localhost:8091", "[::1]:8091", "LOCALHOST:8091"]) {
      expect(guard({ host, origin: ORIGIN }, 8091, ORIGIN, true), host).toEqual({ ok: true });
    }
  });

  it("refuses a rebinding Host, a wrong port and a Host without port", () => {
    for (const host of ["evil.test:8091", "127.0.0.1:8092", "127.0.0.1", "127.0.0.2:8091", undefined]) {
      expect(guard({ host, origin: ORIGIN }, 8091, ORIGIN, true), String(host)).toMatchObject({
        ok: false,
        status: 421,
      });
    }
  });

  it("refuses a missing Origin, another origin and a near miss", () => {
    for (const origin of [undefined, "http://evil.test", "http://localhost:8091", `${ORIGIN}/`, "null"]) {
      expect(guard({ host: "127.0.0.1:8091", origin }, 8091, ORIGIN, true), String(origin)).toMatchObject({
        ok: false,
        status: 403,
      });
    }
  });

  it("checks only Host for a static page, which browsers fetch without Origin", () => {
    expect(guard({ host: "127.0.0.1:8091" }, 8091, ORIGIN, false)).toEqual({ ok: true });
  });
});
