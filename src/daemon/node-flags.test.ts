import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DAEMON_ENV, DAEMON_NODE_FLAGS } from "./node-flags.js";

describe("termhostd's node flags", () => {
  it("and environment are what its #! line runs it with, as installed", () => {
    const first = readFileSync(new URL("./main.ts", import.meta.url), "utf8").split("\n")[0];
    const env = Object.entries(DAEMON_ENV).map(([k, v]) => `${k}=${v}`);
    expect(first).toBe(`#!/usr/bin/env -S ${env.join(" ")} node ${DAEMON_NODE_FLAGS.join(" ")}`);
  });
});
