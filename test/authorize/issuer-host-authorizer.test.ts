import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { IssuerHost } from "../../simulators/issuer/issuer-host.js";
import type { IssuerHostAuthorizer } from "../../src/authorize/issuer-host.js";
import type { Transmit } from "../../src/pcsc/apdu/exchange.js";
import { waitUntil } from "../../src/util/wait.js";
import {
  authorizerFor,
  CARD_ID,
  codeOf,
  credit,
  LoadSteps,
  load,
  makeCard,
  nextIssuerEvent,
  OTHER_TOKEN,
  startIssuer,
  TERMINAL,
  tempDir,
} from "./support/issuer-rig.js";

let dir: string;
let host: IssuerHost;
let authorizer: IssuerHostAuthorizer;
let card: Transmit;
let balance: () => number;

beforeEach(async () => {
  dir = tempDir();
  host = await startIssuer(dir);
  authorizer = authorizerFor(host);
  const made = makeCard(dir);
  card = made.transmit;
  balance = () => made.card.snapshot.balance;
});

afterEach(async () => {
  await host.stop();
});

/** A MAC one bit off: always different from the genuine one. */
const flipFirstBit = (mac: Buffer): Buffer => {
  const forged = Buffer.from(mac);
  forged[0] = (forged[0] ?? 0) ^ 0x80;
  return forged;
};

const statuses = (): string[] => host.entries().map((e) => e.status);

describe("issuer host authorizer: sessions", () => {
  it("ends the issuer session of every exchange once it is done: an identification, a load, a failed one", async () => {
    // An identification only (what restore does): authenticate, nothing more.
    await authorizer.session(async (session) => {
      await new LoadSteps(card, session).authenticate();
    });
    await load(authorizer, card, 1000);
    await authorizer
      .session(async (session) => {
        await new LoadSteps(card, session).authenticate();
        throw new Error("the card was pulled");
      })
      .catch(() => undefined);
    await waitUntil(
      "every issuer session ended",
      () => (host.openSessions() === 0 ? true : undefined),
      5_000,
    );
    expect(host.ledger().authorizations).toHaveLength(1);
  });
});

describe("issuer host authorizer: loads", () => {
  it("authorizes a load, and the verified S3 marks it applied in the issuer's ledger", async () => {
    const { auth, credit } = await load(authorizer, card, 1000);
    expect(credit.balanceAfter).toBe(11_000);
    expect(balance()).toBe(11_000);
    expect(host.ledger().authorizations).toMatchObject([
      {
        authorizationId: auth.authorizationId,
        status: "applied",
        cardId: "0102030405060708",
        counter: 5,
        amount: 1000,
        balanceAfter: 11_000,
      },
    ]);
    // Completion is idempotent: the answer to the first may have been lost.
    await authorizer.verifyCompletion(auth.authorizationId, credit.balanceAfter, credit.s3);
    expect(statuses()).toEqual(["applied"]);
  });

  it("passes the issuer's decline on as AUTHORIZATION_DECLINED, above an amount or for all", async () => {
    host.setBehaviour({ decline: { above: 1500 } });
    await load(authorizer, card, 1500);
    expect(await codeOf(load(authorizer, card, 1501))).toBe("AUTHORIZATION_DECLINED");
    host.setBehaviour({ decline: "all" });
    expect(await codeOf(load(authorizer, card, 1))).toBe("AUTHORIZATION_DECLINED");
    expect(statuses()).toEqual(["applied"]);
    expect(balance()).toBe(11_500);
  });

  it("refuses a card keyed from another master key: CARD_NOT_AUTHENTIC", async () => {
    const impostor = makeCard(dir, Buffer.from("00112233445566778899AABBCCDDEEFF", "hex"), "impostor.json");
    expect(await codeOf(load(authorizer, impostor.transmit, 1000))).toBe("CARD_NOT_AUTHENTIC");
    expect(host.entries()).toEqual([]);
  });

  it("refuses a forged S1, and an S1 for more than the card signed", async () => {
    await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      const forged = { ...init, s1: flipFirstBit(init.s1) };
      expect(await codeOf(steps.authorize(1000, forged))).toBe("CARD_NOT_AUTHENTIC");
    });
    await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      expect(await codeOf(steps.authorize(5000, init))).toBe("CARD_NOT_AUTHENTIC");
    });
    expect(host.entries()).toEqual([]);
  });

  it("refuses a forged S3 and leaves the ledger as it was; the genuine S3 then applies", async () => {
    await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      const auth = await steps.authorize(1000, init);
      const credit = await steps.credit(init, 1000, auth);
      const before = JSON.stringify(host.ledger());
      const forged = flipFirstBit(credit.s3);
      expect(
        await codeOf(authorizer.verifyCompletion(auth.authorizationId, credit.balanceAfter, forged)),
      ).toBe("CARD_NOT_AUTHENTIC");
      // S3 binds the balance after, so a right MAC with a wrong balance is a forgery too.
      expect(
        await codeOf(authorizer.verifyCompletion(auth.authorizationId, credit.balanceAfter + 1, credit.s3)),
      ).toBe("CARD_NOT_AUTHENTIC");
      expect(JSON.stringify(host.ledger())).toBe(before);
      await authorizer.verifyCompletion(auth.authorizationId, credit.balanceAfter, credit.s3);
    });
    expect(statuses()).toEqual(["applied"]);
  });
});

describe("issuer host authorizer: reversal and find", () => {
  it("reverses an issued authorization idempotently and refuses to reverse an applied one", async () => {
    const first = await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      return { init, auth: await steps.authorize(1000, init) };
    });
    const reversed = await authorizer.reportReversal(first.auth.authorizationId);
    expect(reversed).toMatchObject({
      authorizationId: first.auth.authorizationId,
      status: "reversed",
      amount: 1000,
    });
    expect(await authorizer.reportReversal(first.auth.authorizationId)).toEqual(reversed);
    // The card could still take the reversed S2: its S3 is then a contradiction, not a completion.
    const answer = await credit(card, first.init, 1000, first.auth);
    expect(
      await codeOf(authorizer.verifyCompletion(first.auth.authorizationId, answer.balanceAfter, answer.s3)),
    ).toBe("VALUE_REFUSED");

    const { auth } = await load(authorizer, card, 500);
    expect(await codeOf(authorizer.reportReversal(auth.authorizationId))).toBe("VALUE_REFUSED");
    expect(await codeOf(authorizer.reportReversal(999))).toBe("TRANSACTION_NOT_FOUND");
    expect(statuses()).toEqual(["reversed", "applied"]);
  });

  it("finds the latest authorization by card and counter, and only the asking terminal's", async () => {
    const { auth } = await load(authorizer, card, 1000);
    expect(await authorizer.find(CARD_ID, 5)).toMatchObject({
      authorizationId: auth.authorizationId,
      status: "applied",
      counter: 5,
      amount: 1000,
      terminalId: TERMINAL,
      s2: auth.s2,
    });
    expect(await authorizer.find(CARD_ID, 6)).toBeUndefined();
    const other = authorizerFor(host, { terminalToken: OTHER_TOKEN });
    expect(await other.find(CARD_ID, 5)).toBeUndefined();
    expect(await codeOf(other.reportReversal(auth.authorizationId))).toBe("TRANSACTION_NOT_FOUND");
  });
});

describe("issuer host authorizer: lost answers", () => {
  it("a stalled answer times out as AUTHORIZER_UNAVAILABLE; after release the repeat gets the same authorization", async () => {
    const quick = authorizerFor(host, { timeoutMs: 300 });
    await quick.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      host.setBehaviour({ stall: true, on: ["authorize"] });
      const stalled = nextIssuerEvent(host, "stalled");
      expect(await codeOf(steps.authorize(1000, init))).toBe("AUTHORIZER_UNAVAILABLE");
      await stalled;
      // The issuer decided before the answer was held: the authorization exists, the terminal lacks it.
      expect(statuses()).toEqual(["issued"]);
      host.setBehaviour({});
      const again = await steps.authorize(1000, init);
      expect(again.authorizationId).toBe(host.entries()[0]?.authorizationId);
      expect(again.s2).toEqual(host.entries()[0]?.s2);
      const credit = await steps.credit(init, 1000, again);
      await quick.verifyCompletion(again.authorizationId, credit.balanceAfter, credit.s3);
    });
    expect(statuses()).toEqual(["applied"]);
    expect(balance()).toBe(11_000);
  });

  it("a request held before the issuer decides is decided once, whichever attempt comes first", async () => {
    const quick = authorizerFor(host, { timeoutMs: 300 });
    const first = await quick.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      host.setBehaviour({ stall: true, on: ["authorize"], when: "before-commit" });
      expect(await codeOf(steps.authorize(1000, init))).toBe("AUTHORIZER_UNAVAILABLE");
      expect(host.entries()).toEqual([]);
      const late = nextIssuerEvent(host, "decided");
      host.release();
      // The held request goes on after its client gave up, and issues the authorization.
      expect((await late)[0]).toBe("authorize");
      host.setBehaviour({});
      return steps.authorize(1000, init);
    });
    // A fresh session (re-authenticated card, new S1) for the same terms: the same authorization.
    const second = await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      return steps.authorize(1000, await steps.initializeLoad(1000));
    });
    expect(second).toEqual(first);
    expect(statuses()).toEqual(["issued"]);
  });

  it("a held request whose session the terminal ended issues nothing, and the card's counter stays free", async () => {
    const quick = authorizerFor(host, { timeoutMs: 300 });
    const ref = await quick.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      host.setBehaviour({ stall: true, on: ["authorize"], when: "before-commit" });
      const stalled = nextIssuerEvent(host, "stalled");
      expect(await codeOf(steps.authorize(1000, init))).toBe("AUTHORIZER_UNAVAILABLE");
      await stalled;
      const id = session.ref();
      if (id === null) throw new Error("an issuer session has a ref once challenged");
      await quick.abandon(id);
      const late = nextIssuerEvent(host, "decided");
      host.release();
      // The held request goes on after the end: it finds no session and decides nothing.
      expect(await late).toEqual(["authorize", 404]);
      return id;
    });
    host.setBehaviour({});
    expect(host.entries()).toEqual([]);
    expect(await authorizer.find(CARD_ID, 5)).toBeUndefined();
    // Ending again, or a session that never was, answers the same.
    await authorizer.abandon(ref);
    await authorizer.abandon("never-opened");
    // Another amount at the same counter is not blocked by a late authorization.
    const other = await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      return steps.authorize(400, await steps.initializeLoad(400));
    });
    expect(host.entries().map((e) => [e.authorizationId, e.amount, e.status])).toEqual([
      [other.authorizationId, 400, "issued"],
    ]);
  });

  it("an issuer without the end of a session is unavailable for restore, saying what it lacks", async () => {
    // One host answers the protocol's 404 NOT_FOUND, another a bare 405 as web servers do; a third
    // path gets an answer that ends another session, and one not of the schema.
    const bare = createServer((req, res) => {
      if (req.url?.includes("s-other") === true || req.url?.includes("s-junk") === true) {
        res.writeHead(200, { "content-type": "application/json" });
        const other = { sessionId: "someone-else", ended: true };
        res.end(JSON.stringify(req.url.includes("s-other") ? other : { ended: "yes" }));
        return;
      }
      if (req.url?.includes("s-405") === true) {
        res.writeHead(405);
        res.end();
        return;
      }
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ code: "NOT_FOUND", message: "no route" }));
    });
    await new Promise<void>((r) => bare.listen(0, "127.0.0.1", r));
    const { port } = bare.address() as AddressInfo;
    try {
      const old = authorizerFor(host, { url: `http://127.0.0.1:${port}/` });
      for (const ref of ["s-404", "s-405"])
        await expect(old.abandon(ref)).rejects.toMatchObject({
          code: "AUTHORIZER_UNAVAILABLE",
          hint: expect.stringContaining("DELETE /sessions/:id"),
        });
      for (const ref of ["s-other", "s-junk"])
        await expect(old.abandon(ref)).rejects.toMatchObject({
          code: "AUTHORIZER_UNAVAILABLE",
          context: { reason: "invalid answer" },
        });
    } finally {
      await new Promise((r) => bare.close(r));
    }
  });

  it("an end that comes after the issuer committed leaves the authorization for find to report", async () => {
    await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(1000);
      await steps.authorize(1000, init);
      await authorizer.abandon(session.ref() ?? "");
    });
    expect((await authorizer.find(CARD_ID, 5))?.status).toBe("issued");
  });

  it("retries a 500 and a cut connection; without retries they are AUTHORIZER_UNAVAILABLE and the repeat is the same", async () => {
    const patient = authorizerFor(host, { retries: 1, retryDelayMs: 0 });
    host.setBehaviour({ fail: true, on: ["authorize"], times: 1 });
    const { auth } = await load(patient, card, 1000);
    expect(statuses()).toEqual(["applied"]);

    await authorizer.session(async (session) => {
      const steps = new LoadSteps(card, session);
      await steps.authenticate();
      const init = await steps.initializeLoad(700);
      host.setBehaviour({ drop: true, on: ["authorize"] });
      expect(await codeOf(steps.authorize(700, init))).toBe("AUTHORIZER_UNAVAILABLE");
      host.setBehaviour({ fail: true, on: ["authorize"] });
      expect(await codeOf(steps.authorize(700, init))).toBe("AUTHORIZER_UNAVAILABLE");
      host.setBehaviour({});
      const again = await steps.authorize(700, init);
      expect(again.authorizationId).toBe(auth.authorizationId + 1);
    });
    expect(statuses()).toEqual(["applied", "issued"]);
  });

  it("answers that come late but within the deadline are answers; an issuer that is gone is unavailable", async () => {
    host.setBehaviour({ delayMs: 200, on: ["open", "complete"] });
    await load(authorizer, card, 1000);
    expect(statuses()).toEqual(["applied"]);
    await host.stop();
    expect(await codeOf(authorizer.find(CARD_ID, 5))).toBe("AUTHORIZER_UNAVAILABLE");
    host = await startIssuer(dir);
  });

  it("a terminal without a valid token is turned away: AUTHORIZER_UNAVAILABLE with the reason", async () => {
    const stranger = authorizerFor(host, { terminalToken: "not-a-token-anyone-has" });
    const e = await stranger.find(CARD_ID, 5).catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: "AUTHORIZER_UNAVAILABLE",
      context: { status: 401, issuerCode: "UNAUTHORIZED" },
    });
  });

  it("refuses a bad configuration with CONFIG_INVALID naming the field", () => {
    expect(() => authorizerFor(host, { url: "ftp://issuer" })).toThrow(/issuerHost.url/);
    expect(() => authorizerFor(host, { terminalToken: "short" })).toThrow(/issuerHost.terminalToken/);
    expect(() => authorizerFor(host, { timeoutMs: 1.5 })).toThrow(/issuerHost.timeoutMs/);
  });
});
