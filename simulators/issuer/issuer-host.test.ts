import { readFileSync, writeFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ErrorReply } from "../../src/authorize/issuer-protocol.js";
import {
  authorizerFor,
  issuerOptions,
  load,
  makeCard,
  OTHER_TOKEN,
  startIssuer,
  TOKEN,
  tempDir,
} from "../../test/authorize/support/issuer-rig.js";
import type { IssuerHost } from "./issuer-host.js";

let dir: string;
let host: IssuerHost;

beforeEach(async () => {
  dir = tempDir();
  host = await startIssuer(dir);
});

afterEach(async () => {
  await host.stop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  token: string | null = TOKEN,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${host.url}${path}`, {
    method,
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, json: await res.json() };
}

/** The typed refusal: HTTP status and error code, the message checked only for being there. */
async function refusal(p: Promise<{ status: number; json: unknown }>): Promise<[number, string]> {
  const { status, json } = await p;
  const body = ErrorReply.parse(json);
  expect(body.message.length).toBeGreaterThan(0);
  return [status, body.code];
}

describe("issuer host simulator: HTTP boundary", () => {
  it("requires a terminal's bearer token for the API and the admin token for the ledger and controls", async () => {
    expect(await refusal(call("POST", "/sessions", {}, null))).toEqual([401, "UNAUTHORIZED"]);
    expect(await refusal(call("POST", "/sessions", {}, "wrong-token-wrong-token"))).toEqual([
      401,
      "UNAUTHORIZED",
    ]);
    expect((await call("POST", "/sessions", {})).status).toBe(201);
    expect(await refusal(call("GET", "/ledger", undefined, TOKEN))).toEqual([401, "UNAUTHORIZED"]);
    expect(await refusal(call("PUT", "/admin/behaviour", { stall: true }, TOKEN))).toEqual([
      401,
      "UNAUTHORIZED",
    ]);
    expect(await call("GET", "/ledger", undefined, host.adminToken)).toMatchObject({
      status: 200,
      json: { format: "termhost-issuer-ledger", version: 1, nextAuthorizationId: 1, authorizations: [] },
    });
  });

  it("answers bad input with 400 and a typed error, and unknown routes with 404", async () => {
    const { json } = await call("POST", "/sessions", {});
    const { sessionId } = json as { sessionId: string };
    const verify = `/sessions/${sessionId}/verify`;
    expect(await refusal(call("POST", verify, "{not json"))).toEqual([400, "INVALID_REQUEST"]);
    expect(await refusal(call("POST", verify))).toEqual([400, "INVALID_REQUEST"]);
    expect(await refusal(call("POST", verify, { cardId: "0102030405060708", counter: 5 }))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    const answer = {
      cardId: "0102030405060708",
      counter: 5,
      cardChallenge: "00".repeat(8),
      mac: "00".repeat(8),
    };
    expect(await refusal(call("POST", verify, { ...answer, counter: 1.5 }))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(await refusal(call("POST", verify, { ...answer, mac: "zz".repeat(8) }))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(await refusal(call("POST", verify, { ...answer, extra: 1 }))).toEqual([400, "INVALID_REQUEST"]);
    const authorize = `/sessions/${sessionId}/authorize`;
    const init = {
      cardId: "0102030405060708",
      currency: 978,
      balance: 0,
      counter: 5,
      cardChallenge: "00".repeat(8),
      s1: "00".repeat(8),
    };
    const terms = { amount: 100, terminalId: "5445524D30303031", init };
    expect(await refusal(call("POST", authorize, { ...terms, amount: 0 }))).toEqual([400, "INVALID_REQUEST"]);
    expect(await refusal(call("POST", authorize, { ...terms, amount: 10.5 }))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(await refusal(call("POST", authorize, { ...terms, amount: "100" }))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(
      await refusal(call("POST", "/authorizations/1/complete", { balanceAfter: -1, s3: "00".repeat(8) })),
    ).toEqual([400, "INVALID_REQUEST"]);
    expect(await refusal(call("GET", "/authorizations?cardId=0102&counter=5"))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(await refusal(call("GET", "/authorizations?cardId=0102030405060708&counter=-1"))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(await refusal(call("POST", verify, { pad: "x".repeat(20_000) }))).toEqual([
      413,
      "PAYLOAD_TOO_LARGE",
    ]);
    expect(await refusal(call("PUT", "/admin/behaviour", { stall: "yes" }, host.adminToken))).toEqual([
      400,
      "INVALID_REQUEST",
    ]);
    expect(await refusal(call("DELETE", "/sessions"))).toEqual([404, "NOT_FOUND"]);
    expect(await refusal(call("DELETE", `/sessions/${sessionId}`, {}))).toEqual([400, "INVALID_REQUEST"]);
    expect(await refusal(call("DELETE", "/sessions/bad%20id"))).toEqual([404, "NOT_FOUND"]);
    expect(await refusal(call("POST", "/sessions/nope/verify", answer))).toEqual([404, "SESSION_NOT_FOUND"]);
    // The session is still usable: refused input decided nothing.
    expect(await refusal(call("POST", verify, answer))).toEqual([422, "CARD_NOT_AUTHENTIC"]);
  });

  it("keeps a terminal to its own sessions and its own name", async () => {
    const { json } = await call("POST", "/sessions", {});
    const { sessionId } = json as { sessionId: string };
    const answer = {
      cardId: "0102030405060708",
      counter: 5,
      cardChallenge: "00".repeat(8),
      mac: "00".repeat(8),
    };
    expect(await refusal(call("POST", `/sessions/${sessionId}/verify`, answer, OTHER_TOKEN))).toEqual([
      404,
      "SESSION_NOT_FOUND",
    ]);
    const init = {
      cardId: "0102030405060708",
      currency: 978,
      balance: 0,
      counter: 5,
      cardChallenge: "00".repeat(8),
      s1: "00".repeat(8),
    };
    expect(
      await refusal(
        call("POST", `/sessions/${sessionId}/authorize`, { amount: 1, terminalId: "5445524D30303032", init }),
      ),
    ).toEqual([403, "FORBIDDEN"]);
    // Another terminal cannot end this session; its end answers as for any session it does not have.
    expect((await call("DELETE", `/sessions/${sessionId}`, undefined, OTHER_TOKEN)).status).toBe(200);
    expect(await refusal(call("POST", `/sessions/${sessionId}/verify`, answer))).toEqual([
      422,
      "CARD_NOT_AUTHENTIC",
    ]);
    const ended = await call("DELETE", `/sessions/${sessionId}`);
    expect([ended.status, ended.json]).toEqual([200, { sessionId, ended: true }]);
    expect(await refusal(call("POST", `/sessions/${sessionId}/verify`, answer))).toEqual([
      404,
      "SESSION_NOT_FOUND",
    ]);
  });

  it("controls behaviour through the admin endpoint and releases stalled answers", async () => {
    const admin = (method: string, path: string, body?: unknown) => call(method, path, body, host.adminToken);
    expect((await admin("PUT", "/admin/behaviour", { stall: true, on: ["open"] })).json).toEqual({
      stall: true,
      on: ["open"],
    });
    const stalled = new Promise((r) => host.events.once("stalled", r));
    const held = call("POST", "/sessions", {});
    await stalled;
    expect(await admin("POST", "/admin/release")).toEqual({ status: 200, json: { released: 1 } });
    expect((await held).status).toBe(201);
    expect((await admin("PUT", "/admin/behaviour", {})).json).toEqual({});
  });
});

describe("issuer host simulator: ledger file", () => {
  it("keeps its ledger across a restart, written atomically; a torn temporary file is discarded", async () => {
    const { transmit } = makeCard(dir);
    await load(authorizerFor(host), transmit, 1000);
    const path = issuerOptions(dir).ledgerPath;
    const before = JSON.parse(readFileSync(path, "utf8"));
    expect(before).toMatchObject({
      format: "termhost-issuer-ledger",
      nextAuthorizationId: 2,
      authorizations: [{ authorizationId: 1, status: "applied", amount: 1000, balanceAfter: 11_000 }],
    });
    expect(before).toEqual(host.ledger());
    await host.stop();
    writeFileSync(`${path}.tmp`, '{"format": "termhost-issuer-ledger", "versi');
    host = await startIssuer(dir);
    expect(host.ledger()).toEqual(before);
    const { auth } = await load(authorizerFor(host), transmit, 500);
    expect(auth.authorizationId).toBe(2);
  });

  it("refuses to start on a damaged ledger or another authorizer's ledger", async () => {
    await host.stop();
    const path = issuerOptions(dir).ledgerPath;
    writeFileSync(
      path,
      JSON.stringify({
        format: "termhost-sam-ledger",
        version: 1,
        nextAuthorizationId: 1,
        authorizations: [],
      }),
    );
    await expect(startIssuer(dir)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    writeFileSync(path, "{");
    await expect(startIssuer(dir)).rejects.toMatchObject({ code: "CONFIG_INVALID" });
    writeFileSync(
      path,
      JSON.stringify({
        format: "termhost-issuer-ledger",
        version: 1,
        nextAuthorizationId: 1,
        authorizations: [],
      }),
    );
    host = await startIssuer(dir);
  });
});
