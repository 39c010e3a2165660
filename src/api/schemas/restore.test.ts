import { describe, expect, it } from "vitest";
import { RestoreMethods } from "./restore.js";

describe("admin.restore.write-off params", () => {
  const params = RestoreMethods["admin.restore.write-off"].params;

  it("takes one transaction reference and a note", () => {
    expect(params.safeParse({ txId: "vtx-1", note: "card reported lost" }).success).toBe(true);
    expect(params.safeParse({ requestId: "r-1", note: "lost" }).success).toBe(true);
  });

  it("refuses a missing, blank or oversized note, both or neither reference, and unknown fields", () => {
    for (const bad of [
      { txId: "vtx-1" },
      { txId: "vtx-1", note: "   " },
      { txId: "vtx-1", note: "x".repeat(501) },
      { txId: "vtx-1", requestId: "r-1", note: "lost" },
      { note: "lost" },
      { txId: "vtx-1", note: "lost", force: true },
      { txId: 7, note: "lost" },
    ])
      expect(params.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
  });
});
