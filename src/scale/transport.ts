/**
 * The scale's link to a HID device: node-hid in production, the simulator in tests. The driver
 * imports only these types, never a native module.
 */

export interface DeviceInfo {
  /** Lower-case four-digit hex, as udev and lsusb write it: "0922". */
  vendorId: string;
  productId: string;
  /** Opaque address that `open` understands (a hidraw path for node-hid). */
  path: string;
  serialNumber?: string;
  product?: string;
}

/**
 * One open HID device.
 *
 * Rules every implementation keeps, because HID gives no unplug event:
 * - `read` resolves with the next input report (report id first when the device numbers them).
 * - `read` rejects with TIMEOUT when no report came within `timeoutMs` but the device is still
 *   there (scales that report only on change stay quiet for long stretches).
 * - A pending or later `read` rejects with SCALE_OFFLINE when the device is unplugged or fails;
 *   that rejection is the only unplug signal, and the transport is dead afterwards.
 * - After `close()`, a pending `read` rejects with SCALE_OFFLINE and `context.closed = true`.
 * - `write` sends one output report; it rejects with SCALE_OFFLINE when the device is gone.
 * - `close()` never throws and may be called more than once.
 */
export interface ScaleTransport {
  read(timeoutMs: number): Promise<Buffer>;
  write(report: Buffer): Promise<void>;
  close(): Promise<void>;
}

/**
 * Lists and opens HID devices. `list` is slow on real hardware: the driver calls it only while no
 * scale is connected, never on the read path. `open` rejects with SCALE_OFFLINE when the device
 * has gone or cannot be opened (including missing permissions).
 */
export interface ScaleEnumerator {
  list(): Promise<DeviceInfo[]>;
  open(info: DeviceInfo): Promise<ScaleTransport>;
}

/** "0x0922", 0x922 or 2338 → "0922". */
export function usbId(id: number): string {
  return id.toString(16).padStart(4, "0");
}
