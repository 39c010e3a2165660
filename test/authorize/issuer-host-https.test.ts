import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  authorizerFor,
  CARD_ID,
  codeOf,
  load,
  makeCard,
  startIssuer,
  tempDir,
} from "./support/issuer-rig.js";

/** A throwaway self-signed certificate for 127.0.0.1, made by the system's openssl. */
function selfSigned(dir: string): { key: string; cert: string; certPath: string } {
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
      .concat(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"])
      .concat(["-keyout", keyPath, "-out", certPath]),
    { stdio: "ignore" },
  );
  return { key: readFileSync(keyPath, "utf8"), cert: readFileSync(certPath, "utf8"), certPath };
}

describe("issuer host over HTTPS", () => {
  it("loads through a private CA named in caFile, and refuses an issuer whose certificate it cannot trust", async () => {
    const dir = tempDir();
    const { key, cert, certPath } = selfSigned(dir);
    const host = await startIssuer(dir, { tls: { key, cert } });
    try {
      expect(host.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const { credit } = await load(authorizerFor(host, { caFile: certPath }), makeCard(dir).transmit, 1000);
      expect(credit.balanceAfter).toBe(11_000);
      expect(await codeOf(authorizerFor(host).find(CARD_ID, 5))).toBe("AUTHORIZER_UNAVAILABLE");
      expect(host.entries().map((e) => e.status)).toEqual(["applied"]);
    } finally {
      await host.stop();
    }
  });
});
