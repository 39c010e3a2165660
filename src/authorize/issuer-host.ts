import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { type ErrorCode, TermhostError } from "../errors/errors.js";
import { formatZodIssues } from "../errors/zod-format.js";
import type {
  AuthenticateResponse,
  AuthorizationRecord,
  InitializeLoadResponse,
} from "../purse/messages/index.js";
import type { Authorization, Authorizer, AuthorizerSession, LoadAuthorizationRequest } from "./authorizer.js";
import {
  type AuthorizationJson,
  AuthorizationList,
  AuthorizationReply,
  ErrorReply,
  SessionEnded,
  SessionOpened,
  Verified,
} from "./issuer-protocol.js";

/** The daemon's `authorizer.issuerHost` section. */
export const IssuerHostConfig = z
  .object({
    /** Base URL of the issuer host's API, http: or https:. */
    url: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), "expected an http: or https: URL"),
    /** This terminal's bearer token at the issuer host. */
    terminalToken: z.string().regex(/^[\x21-\x7e]{16,512}$/, "16 to 512 printable ASCII characters"),
    /** Deadline of one HTTP exchange, answer included. */
    timeoutMs: z.number().int().min(50).max(120_000).default(5000),
    /** Further attempts after a network error, a timeout or a 5xx; every call is safe to repeat. */
    retries: z.number().int().min(0).max(10).default(2),
    retryDelayMs: z.number().int().min(0).max(60_000).default(200),
    /** PEM file of the CA that signed the issuer host's certificate, when not a public one. */
    caFile: z.string().min(1).optional(),
  })
  .strict();
export type IssuerHostConfig = z.input<typeof IssuerHostConfig>;

const MAX_ANSWER_BYTES = 1024 * 1024;

interface HttpAnswer {
  status: number;
  json: unknown;
}

/**
 * The issuer host as an Authorizer (claim 002 B over HTTP). It holds no key: the issuer checks
 * every card MAC. Every call is idempotent at the issuer, so a lost answer is retried and a call
 * that still cannot get through is AUTHORIZER_UNAVAILABLE — nothing decided, safe to repeat later.
 */
export class IssuerHostAuthorizer implements Authorizer {
  readonly name = "issuer-host";
  private readonly base: URL;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly ca: Buffer | undefined;

  constructor(config: IssuerHostConfig) {
    const parsed = IssuerHostConfig.safeParse(config);
    if (!parsed.success) {
      throw new TermhostError(
        "CONFIG_INVALID",
        `issuer host: ${formatZodIssues(parsed.error, "issuerHost").join("; ")}`,
      );
    }
    const c = parsed.data;
    this.base = new URL(c.url.endsWith("/") ? c.url : `${c.url}/`);
    this.token = c.terminalToken;
    this.timeoutMs = c.timeoutMs;
    this.retries = c.retries;
    this.retryDelayMs = c.retryDelayMs;
    this.ca = c.caFile === undefined ? undefined : readFileSync(c.caFile);
  }

  /**
   * The issuer session opened by the challenge is ended once `fn` is done with it, whatever the
   * outcome: an identification or a purchase leaves none open behind it, and a load's authorization
   * is already issued or not by then. Not awaited: a failing end must not turn a finished load
   * into an error, and a session the issuer never hears the end of expires there.
   */
  async session<T>(fn: (session: AuthorizerSession) => Promise<T>): Promise<T> {
    const session = new IssuerHostSession(this);
    try {
      return await fn(session);
    } finally {
      const ref = session.ref();
      if (ref !== null) this.abandon(ref).catch(() => undefined);
    }
  }

  async verifyCompletion(authorizationId: number, balanceAfter: number, s3: Buffer): Promise<void> {
    const a = await this.call(
      "POST",
      `authorizations/${authorizationId}/complete`,
      { balanceAfter, s3: hex(s3) },
      AuthorizationReply,
    );
    if (a.authorization.authorizationId !== authorizationId || a.authorization.status !== "applied") {
      throw invalidAnswer("completion answer is not the applied authorization");
    }
  }

  async reportReversal(authorizationId: number): Promise<AuthorizationRecord> {
    const a = await this.call("POST", `authorizations/${authorizationId}/reversal`, {}, AuthorizationReply);
    if (a.authorization.authorizationId !== authorizationId || a.authorization.status !== "reversed") {
      throw invalidAnswer("reversal answer is not the reversed authorization");
    }
    return recordOf(a.authorization);
  }

  async find(cardId: Buffer, counter: number): Promise<AuthorizationRecord | undefined> {
    const query = new URLSearchParams({ cardId: hex(cardId), counter: String(counter) });
    const list = await this.call("GET", `authorizations?${query}`, undefined, AuthorizationList);
    const latest = list.authorizations.at(-1);
    if (latest === undefined) return undefined;
    if (!sameHex(latest.cardId, cardId) || latest.counter !== counter) {
      throw invalidAnswer("found an authorization for another card or counter");
    }
    return recordOf(latest);
  }

  async abandon(ref: string): Promise<void> {
    try {
      const ended = await this.call("DELETE", `sessions/${encodeURIComponent(ref)}`, undefined, SessionEnded);
      if (ended.sessionId !== ref) throw invalidAnswer("ended another session");
    } catch (e) {
      // A session the issuer no longer has (expired, or the issuer restarted) issues nothing either.
      if (e instanceof TermhostError && e.context?.issuerCode === "SESSION_NOT_FOUND") return;
      // Without the end, a request the issuer still holds could commit after restore decided: the
      // transaction waits (and says why) rather than settle on a lookup that may be overtaken.
      const status = e instanceof TermhostError ? e.context?.status : undefined;
      if (e instanceof TermhostError && (status === 404 || status === 405 || status === 501)) {
        throw new TermhostError("AUTHORIZER_UNAVAILABLE", "the issuer host cannot end a session", {
          hint: "the issuer host must offer DELETE /sessions/:id (docs/issuer-protocol.md)",
          context: { sessionId: ref },
          cause: e,
        });
      }
      throw e;
    }
  }

  /** One API call with retries; the answer validated against `schema`, refusals typed. */
  async call<S extends z.ZodType>(
    method: string,
    path: string,
    body: unknown,
    schema: S,
  ): Promise<z.infer<S>> {
    for (let attempt = 0; ; attempt++) {
      try {
        return this.interpret(await this.exchange(method, path, body), schema, `${method} /${path}`);
      } catch (e) {
        const retry =
          e instanceof TermhostError && e.code === "AUTHORIZER_UNAVAILABLE" && e.context?.retryable === true;
        if (!retry || attempt >= this.retries) throw e;
        await sleep(this.retryDelayMs * (attempt + 1));
      }
    }
  }

  private interpret<S extends z.ZodType>(answer: HttpAnswer, schema: S, what: string): z.infer<S> {
    if (answer.status >= 200 && answer.status < 300) {
      const parsed = schema.safeParse(answer.json);
      if (!parsed.success) throw invalidAnswer(`${what}: ${formatZodIssues(parsed.error).join("; ")}`);
      return parsed.data;
    }
    if (answer.status >= 500) {
      throw new TermhostError("AUTHORIZER_UNAVAILABLE", `issuer host answered ${answer.status} to ${what}`, {
        context: { status: answer.status, retryable: true },
      });
    }
    const refusal = ErrorReply.safeParse(answer.json);
    const code = refusal.success ? refusal.data.code : "UNKNOWN";
    const message = refusal.success ? refusal.data.message : `HTTP ${answer.status}`;
    throw new TermhostError(termhostCodeOf(code, answer.status), `issuer host: ${message}`, {
      context: { status: answer.status, issuerCode: code },
      ...(code === "UNAUTHORIZED" ? { hint: "check authorizer.issuerHost.terminalToken" } : {}),
    });
  }

  private exchange(method: string, path: string, body: unknown): Promise<HttpAnswer> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<HttpAnswer>((resolve, reject) => {
      const fail = (reason: string, cause?: unknown): void =>
        reject(
          new TermhostError("AUTHORIZER_UNAVAILABLE", `issuer host unreachable: ${reason}`, {
            context: { url: url.origin, reason, retryable: true },
            cause,
          }),
        );
      const req = send(
        url,
        {
          method,
          signal: AbortSignal.timeout(this.timeoutMs),
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "application/json",
            ...(payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": payload.length }),
          },
          ...(this.ca === undefined ? {} : { ca: this.ca }),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) req.destroy(new Error("answer too large"));
            else chunks.push(c);
          });
          res.on("error", (e) => fail(e.name === "AbortError" ? "timeout" : e.message, e));
          res.on("close", () => {
            // A connection cut mid-answer: what arrived is not the answer.
            if (!res.complete) return fail("connection closed mid-answer");
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              resolve({
                status: res.statusCode ?? 0,
                json: text.length === 0 ? undefined : JSON.parse(text),
              });
            } catch (e) {
              reject(invalidAnswer(`${method} /${path}: answer is not JSON`, e));
            }
          });
        },
      );
      req.on("error", (e) => fail(e.name === "AbortError" ? "timeout" : e.message, e));
      req.end(payload);
    });
  }
}

/** One card, one load: an issuer-side session opened by `challenge()`. */
class IssuerHostSession implements AuthorizerSession {
  private sessionId: string | undefined;

  constructor(private readonly host: IssuerHostAuthorizer) {}

  ref(): string | null {
    return this.sessionId ?? null;
  }

  async challenge(): Promise<Buffer> {
    // Each challenge opens a new issuer session, as GET CHALLENGE forgets the SAM's earlier one.
    const opened = await this.host.call("POST", "sessions", {}, SessionOpened);
    this.sessionId = opened.sessionId;
    return Buffer.from(opened.challenge, "hex");
  }

  async verifyAuthentication(answer: AuthenticateResponse): Promise<void> {
    const v = await this.host.call(
      "POST",
      `sessions/${this.id()}/verify`,
      {
        cardId: hex(answer.cardId),
        counter: answer.counter,
        cardChallenge: hex(answer.cardChallenge),
        mac: hex(answer.mac),
      },
      Verified,
    );
    if (!sameHex(v.cardId, answer.cardId) || v.counter !== answer.counter) {
      throw invalidAnswer("verified another card or counter");
    }
  }

  async authorize(request: LoadAuthorizationRequest): Promise<Authorization> {
    const { amount, terminalId, init } = request;
    const a = await this.host.call(
      "POST",
      `sessions/${this.id()}/authorize`,
      { amount, terminalId: hex(terminalId), init: initJson(init) },
      AuthorizationReply,
    );
    const auth = a.authorization;
    // The issuer's S2 is bound to these terms; an answer for other terms would credit the wrong load.
    const bound =
      sameHex(auth.cardId, init.cardId) &&
      auth.counter === init.counter &&
      auth.amount === amount &&
      auth.currency === init.currency &&
      sameHex(auth.terminalId, terminalId);
    if (!bound) throw invalidAnswer("authorization is for other terms than asked");
    return { authorizationId: auth.authorizationId, s2: Buffer.from(auth.s2, "hex") };
  }

  private id(): string {
    if (this.sessionId === undefined) {
      throw new TermhostError("INTERNAL", "issuer host session used before challenge()");
    }
    return this.sessionId;
  }
}

/**
 * The issuer's refusal codes as the product's error codes, the same ones the SAM authorizer uses for
 * the same refusals, so the load engine treats both authorizers alike.
 */
function termhostCodeOf(issuerCode: string, status: number): ErrorCode {
  switch (issuerCode) {
    case "CARD_NOT_AUTHENTIC":
      return "CARD_NOT_AUTHENTIC";
    case "AUTHORIZATION_DECLINED":
    case "AUTHORIZATION_CONFLICT":
    case "CARD_NOT_VERIFIED":
      return "AUTHORIZATION_DECLINED";
    case "AUTHORIZATION_APPLIED":
    case "AUTHORIZATION_REVERSED":
      return "VALUE_REFUSED";
    case "AUTHORIZATION_NOT_FOUND":
      return "TRANSACTION_NOT_FOUND";
    // The issuer lost the session (restart, expiry) or will not talk to this terminal: nothing was
    // decided, and a new session (or a fixed token) may succeed.
    case "SESSION_NOT_FOUND":
    case "UNAUTHORIZED":
    case "FORBIDDEN":
      return "AUTHORIZER_UNAVAILABLE";
    default:
      return status === 402 ? "AUTHORIZATION_DECLINED" : "INTERNAL";
  }
}

function invalidAnswer(message: string, cause?: unknown): TermhostError {
  return new TermhostError("AUTHORIZER_UNAVAILABLE", `issuer host answer invalid: ${message}`, {
    context: { reason: "invalid answer" },
    ...(cause === undefined ? {} : { cause }),
  });
}

function initJson(init: InitializeLoadResponse): Record<string, unknown> {
  return {
    cardId: hex(init.cardId),
    currency: init.currency,
    balance: init.balance,
    counter: init.counter,
    cardChallenge: hex(init.cardChallenge),
    s1: hex(init.s1),
  };
}

function recordOf(a: AuthorizationJson): AuthorizationRecord {
  return {
    authorizationId: a.authorizationId,
    status: a.status,
    cardId: Buffer.from(a.cardId, "hex"),
    counter: a.counter,
    amount: a.amount,
    currency: a.currency,
    terminalId: Buffer.from(a.terminalId, "hex"),
    s2: Buffer.from(a.s2, "hex"),
  };
}

const hex = (b: Buffer): string => b.toString("hex").toUpperCase();
const sameHex = (h: string, b: Buffer): boolean => h.toUpperCase() === hex(b);
