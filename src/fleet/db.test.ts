import pg from "pg";
import { describe, expect, it } from "vitest";
import { fleetError } from "./db.js";

describe("fleetError", () => {
  it("a socket's errno code is the database not answering, even when it looks like a SQLSTATE", () => {
    const epipe = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
    expect(fleetError(epipe)).toMatchObject({ code: "FLEET_UNAVAILABLE" });
    expect(fleetError(new Error("Connection terminated unexpectedly"))).toMatchObject({
      code: "FLEET_UNAVAILABLE",
    });
  });

  it("the server's own errors: connection and shutdown classes are unavailability, a constraint is a refusal", () => {
    const server = (code: string) => Object.assign(new pg.DatabaseError("x", 1, "error"), { code });
    expect(fleetError(server("57P01"))).toMatchObject({
      code: "FLEET_UNAVAILABLE",
      context: { sqlstate: "57P01" },
    });
    expect(fleetError(server("08006"))).toMatchObject({ code: "FLEET_UNAVAILABLE" });
    expect(fleetError(server("23514"))).toMatchObject({ code: "INTERNAL", context: { sqlstate: "23514" } });
  });
});
