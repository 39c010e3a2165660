import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { SimCard } from "../cards/sim-card.js";
import { ViccLink } from "./vicc-link.js";

const card = {
  atr: Buffer.from("3b00", "hex"),
  powerOn() {},
  powerOff() {},
  reset() {},
} as unknown as SimCard;

let server: net.Server | undefined;
const accepted: net.Socket[] = [];
afterEach(async () => {
  for (const s of accepted.splice(0)) s.destroy();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

describe("vicc link", () => {
  it("two inserts at once into one slot make one connection", async () => {
    server = net.createServer((s) => accepted.push(s));
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const link = new ViccLink("127.0.0.1", port);
    await Promise.all([link.insert(card), link.insert(card)]);
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted).toHaveLength(1);
    expect(link.connected).toBe(true);
    link.remove();
  });
});
