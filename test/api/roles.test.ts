import { mkdtempSync, readFileSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { AdminMethods, ApiMethods } from "../../src/api/schemas/index.js";
import { AdminClient } from "../../src/client/client.js";
import { isTermhostError } from "../../src/errors/errors.js";
import { waitUntil } from "../../src/util/wait.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";

/** Sends one request line on a fresh connection and returns the reply. */
function rawCall(path: string, method: string, params: unknown = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(path);
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`no reply to ${method}`)), 5000);
    socket.on("data", (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf("\n");
      if (nl === -1) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
    });
    socket.on("error", reject);
    socket.write(`${JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })}\n`);
  });
}

const errorCode = (reply: Record<string, unknown>): string | undefined =>
  (reply.error as { data?: { code?: string } } | undefined)?.data?.code;

describe("roles by socket", () => {
  let rig: Rig;
  let daemon: TestDaemon;
  let adminPath: string;
  let admin: AdminClient;

  beforeAll(async () => {
    const state = mkdtempSync(join(tmpdir(), "termhost-roles-"));
    rig = await Rig.start({
      slots: [
        {},
        {
          card: {
            kind: "purse",
            cardId: "0102030405060708",
            currency: 978,
            maxBalance: 50_000,
            statePath: join(state, "purse.json"),
          },
        },
      ],
    });
    adminPath = join(rig.dir, "admin.sock");
    daemon = await startDaemon(rig, {
      api: { socketPath: join(rig.dir, "api.sock"), group: "daemon" },
      admin: { group: 65534 },
    });
    admin = await AdminClient.connect({ socketPath: adminPath });
  });
  afterAll(async () => {
    admin?.close();
    await daemon?.stop();
    await rig?.stop();
  });

  it("refuses every admin method on api.sock with UNAUTHORIZED, pointing at admin.sock", async () => {
    const names = Object.keys(AdminMethods);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const reply = await rawCall(daemon.socketPath, name, {});
      expect(reply, name).toMatchObject({ id: 1, error: { code: -32000, data: { code: "UNAUTHORIZED" } } });
      expect(JSON.stringify(reply)).toContain("admin.sock");
    }
  });

  it("serves every kiosk method on admin.sock as api.sock does, and every admin method", async () => {
    // Both sockets are built from one registration list, so each kiosk method answers alike on both
    // (a domain that is not configured may be absent from both).
    for (const name of Object.keys(ApiMethods)) {
      const onAdmin = errorCode(await rawCall(adminPath, name, {}));
      expect(onAdmin, name).not.toBe("UNAUTHORIZED");
      expect(onAdmin, name).toBe(errorCode(await rawCall(daemon.socketPath, name, {})));
    }
    for (const name of Object.keys(AdminMethods)) {
      const code = errorCode(await rawCall(adminPath, name, {}));
      expect(["UNAUTHORIZED", "METHOD_NOT_FOUND"], name).not.toContain(code);
    }
  });

  it("creates the sockets with their modes and groups", () => {
    const api = statSync(daemon.socketPath);
    const adm = statSync(adminPath);
    expect(api.mode & 0o777).toBe(0o660);
    expect(adm.mode & 0o777).toBe(0o600);
    expect(api.gid).toBe(1);
    expect(adm.gid).toBe(65534);
    expect(api.isSocket() && adm.isSocket()).toBe(true);
  });

  it("admin.readers shows the raw reader state", async () => {
    const r = await waitUntil(
      "two readers",
      async () => {
        const v = await admin.call("admin.readers", {});
        return v.readers.length === 2 ? v : undefined;
      },
      10_000,
    );
    expect(r.pcsc.state).toBe("up");
    expect(r.readers.map((x) => x.name).sort()).toEqual([...rig.readerNames].sort());
  });

  it("admin.apdu sends raw APDUs and answers each with its status meaning and a masked trace", async () => {
    await rig.insert(1);
    const reader = rig.readerNames[1] as string;
    await waitUntil(
      "card present",
      async () =>
        (await admin.status()).readers.find((r) => r.name === reader)?.card === "present" ? true : undefined,
      10_000,
    );
    const res = await admin.call("admin.apdu", {
      reader,
      apdus: ["00A4040008F05448505552534500", "00 20 00 80 08 3132333400000000", "80CA000000"],
    });
    expect(res.exchanges).toHaveLength(3);
    const [select, verify, unknown] = res.exchanges;
    expect(select).toMatchObject({ sw: "9000", kind: "success", meaning: "success" });
    expect(select?.data).toMatch(/^6F0A8408F054485055525345$/);
    expect(select?.trace[0]).toBe("=> 00A40400 08 F054485055525345 00");
    expect(verify?.command).toBeNull();
    expect(verify?.trace[0]).toBe("=> 00200080 08 ** 8 bytes masked **");
    expect(JSON.stringify(res)).not.toContain("3132333400000000");
    expect(unknown?.kind).toBe("error");
    expect(unknown?.meaning.length).toBeGreaterThan(0);
  });

  it("admin.apdu refuses malformed APDUs before touching the card", async () => {
    const reader = rig.readerNames[1] as string;
    const err = await admin
      .call("admin.apdu", { reader, apdus: ["00A4040008F054485055525345", "00A4"] })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isTermhostError(err, "APDU_MALFORMED")).toBe(true);
    expect((err as Error).message).toContain("apdus[1]");
    const bad = await admin.call("admin.apdu", { reader, apdus: ["zz"] }).catch((e: unknown) => e);
    expect(isTermhostError(bad, "INVALID_PARAMS")).toBe(true);
  });

  it("admin.logLevel changes the live log level", async () => {
    const before = await admin.call("admin.logLevel", { level: "error" });
    expect(before).toEqual({ previous: "debug", level: "error" });
    const reader = rig.readerNames[1] as string;
    const logLength = readFileSync(daemon.process.logPath, "utf8").length;
    await rig.remove(1);
    await waitUntil(
      "card gone",
      async () =>
        (await admin.status()).readers.find((r) => r.name === reader)?.card === "absent" ? true : undefined,
      10_000,
    );
    const quiet = readFileSync(daemon.process.logPath, "utf8").slice(logLength);
    expect(quiet).not.toContain("card state changed");
    expect(await admin.call("admin.logLevel", { level: "info" })).toEqual({
      previous: "error",
      level: "info",
    });
    await rig.insert(1);
    await waitUntil(
      "the info line about the card",
      () =>
        readFileSync(daemon.process.logPath, "utf8").slice(logLength).includes("card state changed")
          ? true
          : undefined,
      10_000,
    );
  });
});
