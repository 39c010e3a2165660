import { mkdtempSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hex, thrownCode } from "../../../test/pcsc/support/errors.js";
import { CARD_LIST_ENV, cardListCandidates, loadCardList, resolveCardListPath } from "./load.js";

describe("locating and loading smartcard_list.txt", () => {
  it("looks where ATR_analysis looks, in its order, system copy after the user's", () => {
    expect(cardListCandidates({ HOME: "/home/t" })).toEqual([
      "/home/t/.cache/smartcard_list.txt",
      "/home/t/.smartcard_list.txt",
      "/usr/local/pcsc/smartcard_list.txt",
      "/usr/share/pcsc/smartcard_list.txt",
      "/usr/local/share/pcsc/smartcard_list.txt",
    ]);
    expect(cardListCandidates({ HOME: "/home/t", XDG_CACHE_HOME: "/c" })[0]).toBe("/c/smartcard_list.txt");
  });

  it("takes the option, then the environment, then the first file that exists; empty turns naming off", () => {
    const env = { HOME: "/home/t", [CARD_LIST_ENV]: "/from/env" };
    const exists = (p: string) => p === "/usr/share/pcsc/smartcard_list.txt";
    expect(resolveCardListPath("/given", env, exists)).toBe("/given");
    expect(resolveCardListPath(undefined, env, exists)).toBe("/from/env");
    expect(resolveCardListPath(undefined, { HOME: "/home/t" }, exists)).toBe(
      "/usr/share/pcsc/smartcard_list.txt",
    );
    expect(resolveCardListPath("", env, exists)).toBeUndefined();
    expect(resolveCardListPath(undefined, { HOME: "/home/t", [CARD_LIST_ENV]: "" }, exists)).toBeUndefined();
    expect(resolveCardListPath(undefined, { HOME: "/home/t" }, () => false)).toBeUndefined();
  });

  it("parses a file once and again only when it changed", () => {
    const file = join(mkdtempSync(join(tmpdir(), "termhost-card-list-")), "smartcard_list.txt");
    writeFileSync(file, "3B 00\n\tfirst\n");
    const first = loadCardList(file);
    expect(loadCardList(file)).toBe(first);
    writeFileSync(file, "3B 00\n\tsecond one\n");
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const second = loadCardList(file);
    expect(second).not.toBe(first);
    expect(second.lookup(hex("3B 00"))[0]?.descriptions).toEqual(["second one"]);
    expect(second.file).toBe(file);
  });

  it("refuses an unreadable file with CONFIG_INVALID", () => {
    expect(thrownCode(() => loadCardList("/nonexistent/smartcard_list.txt"))).toBe("CONFIG_INVALID");
  });
});
