import type { z } from "zod";
import type {
  AuthorizeRequest,
  CompleteRequest,
  IssuerErrorCode,
  VerifyRequest,
} from "../../src/authorize/issuer-protocol.js";
import { IssuerError } from "../../src/authorize/issuer-protocol.js";
import {
  completeAuthorization,
  issueAuthorization,
  reverseAuthorization,
  verifyCardAuthentication,
} from "../cards/sam/authorization-rules.js";
import type { Ledger, LedgerEntry } from "../cards/sam/ledger.js";
import type { Reply, SessionTable } from "./sessions.js";

export interface IssuerCoreContext {
  readonly masterKey: Buffer;
  readonly sessions: SessionTable;
  readonly random: (n: number) => Buffer;
  readonly now: () => string;
  ledger(): Ledger;
  /** Writes the ledger durably and makes it current; throws when it could not. */
  commit(next: Ledger): void;
  declines(amount: number): boolean;
}

export function errorReply(code: IssuerErrorCode, message: string): Reply {
  return { status: IssuerError[code], body: { code, message } };
}

const ok = (body: unknown, status = 200): Reply => ({ status, body });
const hex = (b: Buffer): string => b.toString("hex").toUpperCase();
const bytes = (h: string): Buffer => Buffer.from(h, "hex");

export function authorizationJson(e: LedgerEntry): Record<string, unknown> {
  return {
    authorizationId: e.authorizationId,
    status: e.status,
    cardId: hex(e.cardId),
    counter: e.counter,
    amount: e.amount,
    currency: e.currency,
    terminalId: hex(e.terminalId),
    s2: hex(e.s2),
    ...(e.balanceAfter === undefined ? {} : { balanceAfter: e.balanceAfter }),
    issuedAt: e.issuedAt,
    updatedAt: e.updatedAt,
  };
}

/** The issuer's operations for one authenticated terminal (its id in hex, upper case). */
export class IssuerCore {
  constructor(private readonly ctx: IssuerCoreContext) {}

  open(terminal: string): Reply {
    const s = this.ctx.sessions.open(terminal, this.ctx.random(8));
    return ok({ sessionId: s.id, challenge: hex(s.challenge) }, 201);
  }

  /**
   * Ends a session: nothing more is verified or authorized in it. Requests are decided one at a
   * time, so one held before this either committed already or finds no session. Ending an unknown
   * session (expired, never opened, another terminal's) answers the same: it issues nothing.
   */
  end(terminal: string, sessionId: string): Reply {
    this.ctx.sessions.end(sessionId, terminal);
    return ok({ sessionId, ended: true });
  }

  verify(terminal: string, sessionId: string, req: z.infer<typeof VerifyRequest>): Reply {
    const s = this.ctx.sessions.get(sessionId, terminal);
    if (s === undefined) return errorReply("SESSION_NOT_FOUND", "no such session (expired or never opened)");
    const request = canonical(req);
    if (s.verify !== undefined) {
      // The challenge verifies one answer: the same answer again is a repeat, any other a replay.
      return s.verify.request === request
        ? s.verify.reply
        : errorReply("SESSION_STATE", "this session's challenge was used for another answer");
    }
    const verified = verifyCardAuthentication(this.ctx.masterKey, s.challenge, {
      cardId: bytes(req.cardId),
      counter: req.counter,
      cardChallenge: bytes(req.cardChallenge),
      mac: bytes(req.mac),
    });
    const reply =
      verified === undefined
        ? errorReply("CARD_NOT_AUTHENTIC", "the card's authentication MAC does not verify")
        : ok({ cardId: hex(verified.cardId), counter: verified.counter });
    s.verify = { request, reply, verified };
    return reply;
  }

  authorize(terminal: string, sessionId: string, req: z.infer<typeof AuthorizeRequest>): Reply {
    if (req.terminalId.toUpperCase() !== terminal) {
      return errorReply("FORBIDDEN", "a terminal asks for authorizations in its own name only");
    }
    const s = this.ctx.sessions.get(sessionId, terminal);
    if (s === undefined) return errorReply("SESSION_NOT_FOUND", "no such session (expired or never opened)");
    const request = canonical(req);
    if (s.authorize !== undefined) {
      if (s.authorize.request !== request) {
        return errorReply("SESSION_STATE", "this session already asked for another authorization");
      }
      return this.current(s.authorize.reply);
    }
    const outcome = issueAuthorization(
      this.ctx.masterKey,
      this.ctx.ledger(),
      s.verify?.verified,
      {
        amount: req.amount,
        terminalId: bytes(req.terminalId),
        card: {
          cardId: bytes(req.init.cardId),
          currency: req.init.currency,
          balance: req.init.balance,
          counter: req.init.counter,
          cardChallenge: bytes(req.init.cardChallenge),
          s1: bytes(req.init.s1),
        },
      },
      this.ctx.now(),
      (terms) => !this.ctx.declines(terms.amount),
    );
    let reply: Reply;
    switch (outcome.kind) {
      case "not-verified":
        reply = errorReply("CARD_NOT_VERIFIED", "no verified authentication of this card at this counter");
        break;
      case "s1-invalid":
        reply = errorReply("CARD_NOT_AUTHENTIC", "S1 does not verify");
        break;
      case "conflict":
        reply = errorReply(
          "AUTHORIZATION_CONFLICT",
          `authorization ${outcome.open.authorizationId} with other terms is open for this card and counter`,
        );
        break;
      case "declined":
        reply = errorReply("AUTHORIZATION_DECLINED", "the issuer declines this load");
        break;
      case "existing":
        reply = ok({ authorization: authorizationJson(outcome.entry) });
        break;
      case "issued": {
        const failed = this.tryCommit(outcome.next);
        // A failed write is not an answer: nothing is remembered, so a repeat tries again.
        if (failed !== undefined) return failed;
        reply = ok({ authorization: authorizationJson(outcome.entry) });
        break;
      }
    }
    s.authorize = { request, reply };
    return reply;
  }

  complete(terminal: string, id: number, req: z.infer<typeof CompleteRequest>): Reply {
    if (this.ownEntry(terminal, id) === undefined) return notFound(id);
    const o = completeAuthorization(
      this.ctx.masterKey,
      this.ctx.ledger(),
      id,
      req.balanceAfter,
      bytes(req.s3),
      this.ctx.now(),
    );
    switch (o.kind) {
      case "not-found":
        return notFound(id);
      case "s3-invalid":
        return errorReply("CARD_NOT_AUTHENTIC", "S3 does not verify against the authorization's record");
      case "reversed":
        return errorReply("AUTHORIZATION_REVERSED", `authorization ${id} was reported for reversal`);
      case "already-applied":
        return ok({ authorization: authorizationJson(o.entry) });
      case "applied":
        return this.tryCommit(o.next) ?? ok({ authorization: authorizationJson(o.entry) });
    }
  }

  reversal(terminal: string, id: number): Reply {
    if (this.ownEntry(terminal, id) === undefined) return notFound(id);
    const o = reverseAuthorization(this.ctx.ledger(), id, this.ctx.now());
    switch (o.kind) {
      case "not-found":
        return notFound(id);
      case "applied":
        return errorReply("AUTHORIZATION_APPLIED", `authorization ${id} was applied; it cannot be reversed`);
      case "already-reversed":
        return ok({ authorization: authorizationJson(o.entry) });
      case "reversed":
        return this.tryCommit(o.next) ?? ok({ authorization: authorizationJson(o.entry) });
    }
  }

  find(terminal: string, cardId: string, counter: number): Reply {
    const card = bytes(cardId);
    const mine = this.ctx
      .ledger()
      .entries.filter(
        (e) => e.cardId.equals(card) && e.counter === counter && hex(e.terminalId) === terminal,
      );
    return ok({ authorizations: mine.map(authorizationJson) });
  }

  read(terminal: string, id: number): Reply {
    const e = this.ownEntry(terminal, id);
    return e === undefined ? notFound(id) : ok({ authorization: authorizationJson(e) });
  }

  /** A remembered success shows the authorization as it stands now (it may have been applied since). */
  private current(reply: Reply): Reply {
    const id = (reply.body as { authorization?: { authorizationId?: number } }).authorization
      ?.authorizationId;
    const e = id === undefined ? undefined : this.ctx.ledger().entries.find((x) => x.authorizationId === id);
    return e === undefined ? reply : ok({ authorization: authorizationJson(e) });
  }

  private ownEntry(terminal: string, id: number): LedgerEntry | undefined {
    const e = this.ctx.ledger().entries.find((x) => x.authorizationId === id);
    return e !== undefined && hex(e.terminalId) === terminal ? e : undefined;
  }

  private tryCommit(next: Ledger): Reply | undefined {
    try {
      this.ctx.commit(next);
      return undefined;
    } catch (e) {
      return errorReply("LEDGER_WRITE_FAILED", `the ledger could not be written: ${(e as Error).message}`);
    }
  }
}

function notFound(id: number): Reply {
  return errorReply("AUTHORIZATION_NOT_FOUND", `no authorization ${id} for this terminal`);
}

/** Key order fixed by the schema's parse, hex case folded: equal requests give equal strings. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    typeof x === "string" && /^[0-9a-fA-F]{16}$/.test(x) ? x.toUpperCase() : x,
  );
}
