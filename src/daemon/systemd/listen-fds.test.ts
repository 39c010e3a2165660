import { describe, expect, it } from "vitest";
import { isTermhostError } from "../../errors/errors.js";
import { type Env, parseListenFds, takeListenFds } from "./listen-fds.js";

const PID = 4242;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isTermhostError(e) ? e.code : `not a TermhostError: ${String(e)}`;
  }
  return undefined;
}

describe("parseListenFds", () => {
  it("maps names to descriptors from 3 on, in order", () => {
    const got = parseListenFds({ LISTEN_PID: "4242", LISTEN_FDS: "2", LISTEN_FDNAMES: "api:admin" }, PID);
    expect(got.fds).toEqual([
      { fd: 3, name: "api" },
      { fd: 4, name: "admin" },
    ]);
    expect(got.named.get("api")).toBe(3);
    expect(got.named.get("admin")).toBe(4);
  });

  it("passes nothing when the variables are absent", () => {
    expect(parseListenFds({}, PID).fds).toEqual([]);
    expect(parseListenFds({ LISTEN_PID: "4242" }, PID).fds).toEqual([]);
  });

  it("ignores sockets meant for another process (inherited variables)", () => {
    const got = parseListenFds({ LISTEN_PID: "4241", LISTEN_FDS: "1", LISTEN_FDNAMES: "api" }, PID);
    expect(got.fds).toEqual([]);
    expect(got.named.size).toBe(0);
  });

  it("names descriptors 'unknown' when LISTEN_FDNAMES is absent", () => {
    const got = parseListenFds({ LISTEN_PID: "4242", LISTEN_FDS: "1" }, PID);
    expect(got.fds).toEqual([{ fd: 3, name: "unknown" }]);
  });

  it("treats LISTEN_FDS=0 as no sockets", () => {
    expect(parseListenFds({ LISTEN_PID: "4242", LISTEN_FDS: "0" }, PID).fds).toEqual([]);
  });

  it.each<[string, Env]>([
    ["a non-numeric pid", { LISTEN_PID: "42x", LISTEN_FDS: "1" }],
    ["a negative count", { LISTEN_PID: "4242", LISTEN_FDS: "-1" }],
    ["an absurd count", { LISTEN_PID: "4242", LISTEN_FDS: "100000" }],
    ["fewer names than descriptors", { LISTEN_PID: "4242", LISTEN_FDS: "2", LISTEN_FDNAMES: "api" }],
    ["more names than descriptors", { LISTEN_PID: "4242", LISTEN_FDS: "1", LISTEN_FDNAMES: "api:admin" }],
    ["two sockets with one name", { LISTEN_PID: "4242", LISTEN_FDS: "2", LISTEN_FDNAMES: "api:api" }],
  ])("rejects %s with SERVICE_ENV_INVALID", (_what, env) => {
    expect(code(() => parseListenFds(env, PID))).toBe("SERVICE_ENV_INVALID");
  });
});

describe("takeListenFds", () => {
  it("removes the variables so children do not inherit them", () => {
    const env: Env = { LISTEN_PID: "4242", LISTEN_FDS: "1", LISTEN_FDNAMES: "api", PATH: "/usr/bin" };
    expect(takeListenFds(env, PID).named.get("api")).toBe(3);
    expect(env).toEqual({ PATH: "/usr/bin" });
  });

  it("removes them too when they were meant for another process or malformed", () => {
    const other: Env = { LISTEN_PID: "1", LISTEN_FDS: "1", LISTEN_FDNAMES: "api" };
    expect(takeListenFds(other, PID).fds).toEqual([]);
    expect(other).toEqual({});
    const bad: Env = { LISTEN_PID: "4242", LISTEN_FDS: "two" };
    expect(code(() => takeListenFds(bad, PID))).toBe("SERVICE_ENV_INVALID");
    expect(bad).toEqual({});
  });
});
