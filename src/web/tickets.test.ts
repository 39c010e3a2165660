import { describe, expect, it } from "vitest";
import { TicketBook } from "./tickets.js";

describe("TicketBook", () => {
  it("redeems a ticket once, before it expires", () => {
    const book = new TicketBook(1000);
    const { ticket, expiresAt } = book.issue(0);
    expect(expiresAt).toBe(1000);
    expect(book.redeem(ticket, 999)).toBe(true);
    expect(book.redeem(ticket, 999)).toBe(false);
  });

  it("refuses an expired, unknown or malformed ticket", () => {
    const book = new TicketBook(1000);
    const { ticket } = book.issue(0);
    expect(book.redeem(ticket, 1000)).toBe(false);
    expect(book.redeem("nope", 0)).toBe(false);
    expect(book.redeem("", 0)).toBe(false);
    expect(book.redeem(undefined, 0)).toBe(false);
    expect(book.redeem("x".repeat(101), 0)).toBe(false);
  });

  it("keeps at most maxOutstanding, forgetting the oldest", () => {
    const book = new TicketBook(1000, 2);
    const a = book.issue(0).ticket;
    const b = book.issue(0).ticket;
    const c = book.issue(0).ticket;
    expect(book.outstanding).toBe(2);
    expect(book.redeem(a, 1)).toBe(false);
    expect(book.redeem(b, 1)).toBe(true);
    expect(book.redeem(c, 1)).toBe(true);
  });
});
