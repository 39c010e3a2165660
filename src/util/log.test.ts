import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./log.js";

function captured(): { stream: Writable; lines: () => Record<string, unknown>[]; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    text: () => text,
    lines: () =>
      text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe("the daemon's logger", () => {
  it("never writes keys, tokens or authorization codes, at any depth", () => {
    const out = captured();
    const log = createLogger("test", "info", out.stream);
    const secrets = {
      terminalToken: "tok-1111111111111111",
      adminToken: "tok-2222222222222222",
      vendorKey: "f0e0d0c0b0a090807060504030201000",
      masterKey: "5445524d484f535420544553544b4559",
      authorization: "00112233445566778899aabbccddeeff",
      s2: "770230b317729c19",
    };
    log.info(
      {
        ...secrets,
        config: { value: { authorizer: { kind: "issuer", terminalToken: secrets.terminalToken } } },
        postage: { meters: [{ profile: "m", vendorKey: secrets.vendorKey }] },
        request: { headers: { authorization: `Bearer ${secrets.adminToken}` } },
        tx: { message: { s2: secrets.s2, counter: 5 } },
        refill: { a: { b: { c: { d: { e: { f: { g: { authorization: secrets.authorization } } } } } } } },
      },
      "with secrets",
    );
    for (const s of Object.values(secrets)) expect(out.text()).not.toContain(s);
    const [line] = out.lines();
    expect(line).toMatchObject({
      terminalToken: "[redacted]",
      config: { value: { authorizer: { kind: "issuer", terminalToken: "[redacted]" } } },
      tx: { message: { s2: "[redacted]", counter: 5 } },
      msg: "with secrets",
    });
  });

  it("keeps the fields that only name secrets: ids, kinds, counters", () => {
    const out = captured();
    createLogger("test", "info", out.stream).info(
      { authorizationId: 7, kind: "issuer", tokenCount: 2 },
      "ids",
    );
    expect(out.lines()[0]).toMatchObject({ authorizationId: 7, kind: "issuer", tokenCount: 2 });
  });

  it("redacts a child logger's bindings, and leaves errors to their serializer", () => {
    const out = captured();
    const log = createLogger("test", "info", out.stream).child({ token: "child-secret-0123456789" });
    log.error({ err: new Error("boom"), items: [{ vendorKey: "k" }, 3] }, "failed");
    expect(out.text()).not.toContain("child-secret-0123456789");
    expect(out.lines()[0]).toMatchObject({
      token: "[redacted]",
      err: { type: "Error", message: "boom" },
      items: [{ vendorKey: "[redacted]" }, 3],
    });
  });
});
