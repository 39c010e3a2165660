import { describe, expect, it } from "vitest";
import { TermhostError } from "../../errors/errors.js";
import { Exit, exitCodeFor } from "../exit-codes.js";
import { scaleUnsupported } from "./scale.js";

describe("scale read against a daemon without scale methods", () => {
  it("says there is no scale support in this daemon, with its own exit code", () => {
    const e = scaleUnsupported(new TermhostError("METHOD_NOT_FOUND", "no method scale.read"));
    expect(e).toBeInstanceOf(TermhostError);
    expect((e as TermhostError).message).toBe("no scale support in this daemon");
    expect(exitCodeFor((e as TermhostError).code)).toBe(Exit.UNSUPPORTED);
    const other = new TermhostError("SCALE_OFFLINE", "no scale");
    expect(scaleUnsupported(other)).toBe(other);
  });
});
