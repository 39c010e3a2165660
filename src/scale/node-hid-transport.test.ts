import { describe, expect, it } from "vitest";
import { rejectedCode } from "../../test/pcsc/support/errors.js";
import { isTermhostError } from "../errors/errors.js";
import { type NativeHid, NodeHidEnumerator } from "./node-hid-transport.js";
import { ScaleProfileSchema } from "./profiles/schema.js";
import { ScaleService } from "./scale-service.js";

const INFO = { vendorId: "0922", productId: "8003", path: "/dev/hidraw7" };

function fakeHid(device: {
  read?: () => Promise<Buffer | undefined>;
  write?: () => Promise<number>;
  open?: () => Promise<void>;
}): NativeHid {
  return {
    devicesAsync: async () => [
      { vendorId: 0x922, productId: 0x8003, path: "/dev/hidraw7", product: "M10" },
      { vendorId: 0x46d, productId: 0xc52b },
    ],
    HIDAsync: {
      open: async () => {
        await device.open?.();
        return {
          read: device.read ?? (async () => Buffer.from("03040bff6f04", "hex")),
          write: device.write ?? (async () => 2),
          close: async () => undefined,
        };
      },
    },
  };
}

describe("NodeHidEnumerator", () => {
  it("lists devices with lower-case hex ids, leaving out those without a path", async () => {
    const list = await new NodeHidEnumerator(() => fakeHid({})).list();
    expect(list).toEqual([{ ...INFO, product: "M10" }]);
  });

  it("reads a report, and maps an empty read to TIMEOUT", async () => {
    const t = await new NodeHidEnumerator(() => fakeHid({})).open(INFO);
    expect((await t.read(100)).toString("hex")).toBe("03040bff6f04");
    const quiet = await new NodeHidEnumerator(() => fakeHid({ read: async () => undefined })).open(INFO);
    expect(await rejectedCode(quiet.read(100))).toBe("TIMEOUT");
  });

  it("turns a failed read, write or open into SCALE_OFFLINE, the only unplug signal hidapi gives", async () => {
    const broken = {
      read: async () => {
        throw new Error("could not read from HID device");
      },
      write: async () => {
        throw new Error("Cannot write to hid device");
      },
    };
    const t = await new NodeHidEnumerator(() => fakeHid(broken)).open(INFO);
    expect(await rejectedCode(t.read(100))).toBe("SCALE_OFFLINE");
    expect(await rejectedCode(t.write(Buffer.from("0202", "hex")))).toBe("SCALE_OFFLINE");
    const denied = fakeHid({
      open: async () => {
        throw new Error("cannot open device with path /dev/hidraw7");
      },
    });
    expect(await rejectedCode(new NodeHidEnumerator(() => denied).open(INFO))).toBe("SCALE_OFFLINE");
  });

  it("rejects reads after close with context.closed", async () => {
    const t = await new NodeHidEnumerator(() => fakeHid({})).open(INFO);
    await t.close();
    await t.close();
    const e = await t.read(100).catch((err: unknown) => err);
    expect(isTermhostError(e, "SCALE_OFFLINE") && e.context?.closed).toBe(true);
  });

  it("through the real node-hid, with no configured scale attached, a read is SCALE_OFFLINE", async () => {
    const profile = {
      ...ScaleProfileSchema.parse({ name: "m10", vendorId: "0922", productId: "8003" }),
      file: "x",
    };
    const service = new ScaleService({
      enumerator: new NodeHidEnumerator(),
      profiles: [profile],
      reconnect: { initialMs: 50, maxMs: 100 },
    });
    service.start();
    try {
      expect(await rejectedCode(service.read({ timeoutMs: 300 }))).toBe("SCALE_OFFLINE");
      expect(service.snapshot().online).toBe(false);
    } finally {
      await service.stop();
    }
  });
});
