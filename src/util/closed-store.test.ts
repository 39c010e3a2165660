import { describe, expect, it } from "vitest";
import { type ClosedCodec, ClosedStore } from "./closed-store.js";

interface Entry {
  n: number;
}
let decodes = 0;
const codec: ClosedCodec<Entry> = {
  encode: (e) => String(e.n),
  decode: (s) => {
    decodes++;
    if (!/^\d+$/.test(s)) throw new Error(`not an entry: ${s}`);
    return { n: Number(s) };
  },
};
const store = () => new ClosedStore<Entry>(codec);
const fill = (s: ClosedStore<Entry>, from: number, to: number) => {
  for (let n = from; n < to; n++) s.add(`id${n}`, { n });
};
/** What the store holds, as [id, value] oldest first, through ids() and values() both. */
const listed = (s: ClosedStore<Entry>) => {
  const ids = [...s.ids()];
  expect([...s.values()].map((e) => e.n)).toEqual(ids.map((id) => s.get(id)?.n));
  return ids;
};

describe("ClosedStore", () => {
  it("keeps entries as their encodings, in closing order, decoded when asked for", () => {
    const s = store();
    fill(s, 0, 3);
    expect(s.size).toBe(3);
    expect(s.encoded("id1")).toBe("1");
    expect(s.get("id1")).toEqual({ n: 1 });
    expect(s.get("nope")).toBeUndefined();
    expect(listed(s)).toEqual(["id0", "id1", "id2"]);
    expect(s.oldest()).toBe("id0");
  });

  it("an id added again keeps its place and takes the new value", () => {
    const s = store();
    fill(s, 0, 3);
    s.add("id0", { n: 40 });
    expect(listed(s)).toEqual(["id0", "id1", "id2"]);
    expect(s.get("id0")).toEqual({ n: 40 });
    expect(s.size).toBe(3);
  });

  it("an id deleted out of order and added again is listed once, as the newest", () => {
    const s = store();
    fill(s, 0, 4);
    expect(s.delete("id1")).toBe(true);
    expect(s.delete("id1")).toBe(false);
    expect(s.has("id1")).toBe(false);
    expect(listed(s)).toEqual(["id0", "id2", "id3"]);
    s.add("id1", { n: 11 });
    expect(listed(s)).toEqual(["id0", "id2", "id3", "id1"]);
    expect(s.dropOldest()).toEqual({ id: "id0", encoded: "0" });
    expect(s.dropOldest()?.id).toBe("id2");
    expect(s.dropOldest()?.id).toBe("id3");
    expect(s.dropOldest()).toEqual({ id: "id1", encoded: "11" });
    expect(s.dropOldest()).toBeUndefined();
    expect(s.oldest()).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it("the oldest, once deleted, is stepped past: the next oldest comes next", () => {
    const s = store();
    fill(s, 0, 3);
    s.delete("id0");
    expect(s.oldest()).toBe("id1");
    s.delete("id2");
    expect(s.dropOldest()?.id).toBe("id1");
    expect(s.oldest()).toBeUndefined();
    // Closed again after every trace of it left: one place, as the newest.
    s.add("id0", { n: 0 });
    expect(listed(s)).toEqual(["id0"]);
  });

  it("drops the oldest through long runs, trimming its queue, and keeps the rest in order", () => {
    const s = store();
    fill(s, 0, 10_000);
    for (let n = 0; n < 6000; n++) expect(s.dropOldest()?.id).toBe(`id${n}`);
    fill(s, 10_000, 10_500);
    s.delete("id9000");
    const ids = listed(s);
    expect(ids).toHaveLength(4499);
    expect(ids[0]).toBe("id6000");
    expect(ids.at(-1)).toBe("id10499");
    expect(ids).not.toContain("id9000");
    expect(s.size).toBe(4499);
  });

  it("a store emptied by deletes of its oldest alone holds none of their ids", () => {
    const s = store();
    for (let n = 0; n < 5000; n++) {
      s.add(`id${n}`, { n });
      s.delete(`id${n}`);
    }
    const inside = s as unknown as { order: string[]; head: number; stale: Set<string> };
    expect(inside.stale.size).toBe(0);
    expect(inside.order.length - inside.head).toBe(0);
    expect(inside.order.length).toBeLessThan(2100);
  });

  it("dropOldest hands back an entry as kept, without decoding it", () => {
    const s = store();
    s.addEncoded("bad", "x");
    s.add("good", { n: 1 });
    const before = decodes;
    expect(s.dropOldest()).toEqual({ id: "bad", encoded: "x" });
    expect(decodes).toBe(before);
    expect(s.oldest()).toBe("good");
    expect(s.size).toBe(1);
  });

  it("has, size and encoded never decode", () => {
    const s = store();
    fill(s, 0, 100);
    const before = decodes;
    expect(s.has("id5")).toBe(true);
    expect(s.encoded("id5")).toBe("5");
    expect(s.size).toBe(100);
    expect([...s.ids()]).toHaveLength(100);
    s.delete("id0");
    expect(decodes).toBe(before);
  });
});
