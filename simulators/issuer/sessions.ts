import { randomBytes } from "node:crypto";
import type { VerifiedCard } from "../cards/sam/authorization-rules.js";

/** What a session answered, kept so that a repeated request gets the same answer. */
export interface Remembered {
  /** The request's canonical JSON: a repeat must be byte-for-byte the same request. */
  request: string;
  reply: Reply;
}

export interface Reply {
  status: number;
  body: unknown;
}

/**
 * One card, one load: a challenge, then one verified authentication, then one authorization — the
 * SAM's RAM, held per terminal. Unlike the SAM's, a step's outcome is kept rather than consumed, so a
 * terminal that lost an answer can ask again and get the same one; any other request is refused.
 */
export interface Session {
  id: string;
  terminalId: string;
  expiresAt: number;
  challenge: Buffer;
  verify: (Remembered & { verified: VerifiedCard | undefined }) | undefined;
  authorize: Remembered | undefined;
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly limit: number,
    private readonly clock: () => number,
  ) {}

  open(terminalId: string, challenge: Buffer): Session {
    this.expire();
    // Oldest first out: a terminal that opens sessions and never finishes cannot grow the table.
    while (this.sessions.size >= this.limit) {
      const oldest = this.sessions.keys().next();
      if (oldest.done === true) break;
      this.sessions.delete(oldest.value);
    }
    const session: Session = {
      id: randomBytes(12).toString("base64url"),
      terminalId,
      expiresAt: this.clock() + this.ttlMs,
      challenge,
      verify: undefined,
      authorize: undefined,
    };
    this.sessions.set(session.id, session);
    return session;
  }

  /** A live session of this terminal; another terminal's session does not exist for it. */
  get(id: string, terminalId: string): Session | undefined {
    this.expire();
    const s = this.sessions.get(id);
    return s !== undefined && s.terminalId === terminalId ? s : undefined;
  }

  /** Forgets a session of this terminal; another terminal's is left alone. */
  end(id: string, terminalId: string): void {
    if (this.sessions.get(id)?.terminalId === terminalId) this.sessions.delete(id);
  }

  /** Sessions still open (not ended, not expired). */
  get size(): number {
    this.expire();
    return this.sessions.size;
  }

  private expire(): void {
    const now = this.clock();
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
