import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { isTermhostError } from "../errors/errors.js";
import type { DeviceProfiles } from "../pcsc/profiles/load.js";
import { ReaderGuard } from "./virtual-readers.js";

const profiles = (virtualPattern?: string): DeviceProfiles => ({
  cards: [],
  readers:
    virtualPattern === undefined
      ? []
      : [
          {
            name: "soft reader",
            namePattern: virtualPattern,
            regex: new RegExp(virtualPattern),
            capabilities: { extendedLength: false, contactless: false, pinPad: false, virtual: true },
            file: "soft.json",
          },
        ],
});
const log = pino({ level: "silent" });

describe("ReaderGuard", () => {
  it("knows vpcd's readers by name even without their profile, and others by a virtual profile", () => {
    const guard = new ReaderGuard({ mode: "production", profiles: () => profiles("^Soft "), log });
    expect(guard.isVirtual("Virtual PCD 00 00")).toBe(true);
    expect(guard.isVirtual("Virtual PCD 1 00 01")).toBe(true);
    expect(guard.isVirtual("Soft Reader 00 00")).toBe(true);
    expect(guard.isVirtual("Identiv uTrust 2700 R Smart Card Reader [CCID Interface] 00 00")).toBe(false);
  });

  it("refuses a virtual reader in production with a typed error and a hint; simulation admits it", () => {
    const prod = new ReaderGuard({ mode: "production", profiles: () => profiles(), log });
    let err: unknown;
    try {
      prod.check("Virtual PCD 00 01");
    } catch (e) {
      err = e;
    }
    expect(isTermhostError(err, "VIRTUAL_READER_IN_PRODUCTION")).toBe(true);
    expect((err as { hint: string }).hint).toMatch(/mode: simulation/);
    expect(() => prod.check("ACS ACR39U ICC Reader 00 00")).not.toThrow();
    const sim = new ReaderGuard({ mode: "simulation", profiles: () => profiles(), log });
    expect(() => sim.check("Virtual PCD 00 01")).not.toThrow();
  });

  it("follows reloaded profiles", () => {
    let current = profiles();
    const guard = new ReaderGuard({ mode: "production", profiles: () => current, log });
    expect(guard.admits("Soft Reader 00 00")).toBe(true);
    current = profiles("^Soft ");
    expect(guard.admits("Soft Reader 00 00")).toBe(false);
  });
});

describe("ReaderGuard.devices", () => {
  it("keeps the family's presence token, so restore does not re-authenticate a card it knows", () => {
    const guard = new ReaderGuard({ mode: "simulation", profiles: () => profiles(), log });
    const wrapped = guard.devices({
      name: "card",
      kinds: ["load", "debit"],
      authority: {
        find: async () => undefined,
        reportReversal: async () => undefined,
        abandon: async () => undefined,
      },
      withTarget: () => Promise.reject(new Error("not used")),
      present: () => ["r"],
      mayHold: () => true,
      onAppear: () => undefined,
      presence: (where) => `${where}@t0`,
    });
    expect(wrapped.presence?.("r")).toBe("r@t0");
  });
});
