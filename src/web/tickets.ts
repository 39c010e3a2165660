import { randomBytes } from "node:crypto";

export interface Ticket {
  ticket: string;
  expiresAt: number;
}

/**
 * Short-lived single-use secrets: a ticket opens one WebSocket (or one console session) and is
 * gone, so one that leaks into a log or a browser history afterwards is worth nothing. Time is
 * passed in (milliseconds) so the book is testable without clocks. At most `maxOutstanding` wait
 * to be used; issuing more forgets the oldest, so a page that asks in a loop costs a bounded map.
 */
export class TicketBook {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxOutstanding = 64,
  ) {}

  issue(now: number): Ticket {
    this.sweep(now);
    while (this.open.size >= this.maxOutstanding) {
      const oldest = this.open.keys().next().value;
      if (oldest === undefined) break;
      this.open.delete(oldest);
    }
    const ticket = randomBytes(32).toString("base64url");
    const expiresAt = now + this.ttlMs;
    this.open.set(ticket, expiresAt);
    return { ticket, expiresAt };
  }

  /** True once for a ticket issued here and not expired; false for anything else, and afterwards. */
  redeem(ticket: string | null | undefined, now: number): boolean {
    if (typeof ticket !== "string" || ticket.length === 0 || ticket.length > 100) return false;
    const expiresAt = this.open.get(ticket);
    if (expiresAt === undefined) return false;
    this.open.delete(ticket);
    return now < expiresAt;
  }

  get outstanding(): number {
    return this.open.size;
  }

  private sweep(now: number): void {
    for (const [t, exp] of this.open) if (exp <= now) this.open.delete(t);
  }
}
