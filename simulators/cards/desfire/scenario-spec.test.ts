import { describe, expect, it } from "vitest";
import { CardSpec, DesfireFaultSpec } from "../../scenario.js";

describe("scenario: the DESFire card kind", () => {
  it("accepts a DESFire card and its faults", () => {
    const spec = CardSpec.parse({
      kind: "desfire",
      uid: "04:11:22:33:44:55:66",
      balance: 100,
      upperLimit: 1_000,
      statePath: "/tmp/x.json",
      faults: [
        { tear: "before-commit" },
        { lostAnswer: "Credit" },
        { forge: "GetValue", answer: "wrong-ti" },
      ],
    });
    expect(spec).toMatchObject({ kind: "desfire", uid: "04112233445566" });
  });

  it.each([
    [{ kind: "desfire", uid: "0411223344", statePath: "/tmp/x.json" }, "uid"],
    [
      { kind: "desfire", uid: "04112233445566", statePath: "/tmp/x.json", balance: 2, upperLimit: 1 },
      "balance",
    ],
    [{ kind: "desfire", uid: "04112233445566", statePath: "/tmp/x.json", masterKeys: ["00"] }, "masterKeys"],
  ])("refuses %j (%s)", (raw, field) => {
    const r = CardSpec.safeParse(raw);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path[0])).toContain(field);
  });

  it("refuses a purse fault as a DESFire fault", () => {
    expect(DesfireFaultSpec.safeParse({ command: "CREDIT", when: "mid-write" }).success).toBe(false);
    expect(DesfireFaultSpec.safeParse({ tear: "after-commit-before-response" }).success).toBe(false);
  });
});
