import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DAEMON_NODE_FLAGS } from "./node-flags.js";

describe("termhostd's node flags", () => {
  it("are what its #! line runs it with, as installed", () => {
    const first = readFileSync(new URL("./main.ts", import.meta.url), "utf8").split("\n")[0];
    expect(first).toBe(`#!/usr/bin/env -S node ${DAEMON_NODE_FLAGS.join(" ")}`);
  });
});
