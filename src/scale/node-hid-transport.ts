import { createRequire } from "node:module";
import { TermhostError } from "../errors/errors.js";
import { type DeviceInfo, type ScaleEnumerator, type ScaleTransport, usbId } from "./transport.js";

/** The parts of `node-hid` the scale uses, typed; nothing else in the product imports it. */
interface NativeHidDevice {
  read(timeoutMs?: number): Promise<Buffer | undefined>;
  write(values: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface NativeHid {
  devicesAsync(): Promise<
    Array<{ vendorId: number; productId: number; path?: string; serialNumber?: string; product?: string }>
  >;
  HIDAsync: { open(path: string): Promise<NativeHidDevice> };
}

const require = createRequire(import.meta.url);

function loadNodeHid(): NativeHid {
  return require("node-hid") as NativeHid;
}

function offline(message: string, info: DeviceInfo, cause?: unknown, closed = false): TermhostError {
  return new TermhostError("SCALE_OFFLINE", message, {
    hint: "check the scale's USB cable and the udev rule that gives the termhost group its hidraw node",
    context: { path: info.path, vendorId: info.vendorId, productId: info.productId, closed },
    cause,
  });
}

class NodeHidTransport implements ScaleTransport {
  #closed = false;

  constructor(
    private readonly device: NativeHidDevice,
    private readonly info: DeviceInfo,
  ) {}

  async read(timeoutMs: number): Promise<Buffer> {
    if (this.#closed) throw offline("scale transport is closed", this.info, undefined, true);
    let data: Buffer | undefined;
    try {
      data = await this.device.read(timeoutMs);
    } catch (e) {
      // hidapi has no unplug event: a failed read is how an unplugged scale shows.
      throw offline("scale read failed", this.info, e, this.#closed);
    }
    if (this.#closed) throw offline("scale transport is closed", this.info, undefined, true);
    if (data === undefined || data.length === 0) {
      throw new TermhostError("TIMEOUT", `no scale report within ${timeoutMs} ms`, {
        context: { path: this.info.path },
      });
    }
    return data;
  }

  async write(report: Buffer): Promise<void> {
    try {
      await this.device.write(report);
    } catch (e) {
      throw offline("scale write failed", this.info, e, this.#closed);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.device.close().catch(() => undefined);
  }
}

/**
 * node-hid behind the scale's enumerator interface. The native module loads on first use, so a
 * daemon with no scale configured never touches it.
 */
export class NodeHidEnumerator implements ScaleEnumerator {
  #hid: NativeHid | undefined;

  constructor(private readonly load: () => NativeHid = loadNodeHid) {}

  private hid(): NativeHid {
    this.#hid ??= this.load();
    return this.#hid;
  }

  async list(): Promise<DeviceInfo[]> {
    const devices = await this.hid().devicesAsync();
    return devices
      .filter((d): d is typeof d & { path: string } => typeof d.path === "string" && d.path !== "")
      .map((d) => ({
        vendorId: usbId(d.vendorId),
        productId: usbId(d.productId),
        path: d.path,
        ...(d.serialNumber === undefined ? {} : { serialNumber: d.serialNumber }),
        ...(d.product === undefined ? {} : { product: d.product }),
      }));
  }

  async open(info: DeviceInfo): Promise<ScaleTransport> {
    try {
      return new NodeHidTransport(await this.hid().HIDAsync.open(info.path), info);
    } catch (e) {
      throw offline(`cannot open scale at ${info.path}`, info, e);
    }
  }
}
