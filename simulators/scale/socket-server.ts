import { rmSync } from "node:fs";
import net from "node:net";
import { isTermhostError } from "../../src/errors/errors.js";
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  helloFrame,
  SOCKET_PROTOCOL_VERSION,
} from "../../src/scale/socket-frames.js";
import type { ScaleTransport } from "../../src/scale/transport.js";
import type { SimScale } from "./sim-scale.js";

/**
 * Serves a `SimScale` on a Unix socket in the scale socket protocol (src/scale/socket-frames.ts), so
 * that termhostd in another process reads it through the same report parser as a USB scale.
 * Unplugging closes every connection and stops listening (the path disappears, as a device leaves
 * the bus); replugging listens again.
 */
export class ScaleSocketServer {
  readonly #connections = new Set<net.Socket>();
  #server: net.Server | undefined;

  constructor(
    readonly sim: SimScale,
    readonly path: string,
  ) {}

  get connections(): number {
    return this.#connections.size;
  }

  async listen(): Promise<void> {
    if (this.#server !== undefined) return;
    rmSync(this.path, { force: true });
    const server = net.createServer((socket) => void this.#serve(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  async unplug(): Promise<void> {
    this.sim.unplug();
    for (const socket of this.#connections) socket.destroy();
    await this.#stopListening();
  }

  async replug(): Promise<void> {
    this.sim.replug();
    await this.listen();
  }

  /** Writes raw bytes to every connected host: malformed frames for tests. */
  sendRaw(bytes: Buffer): number {
    for (const socket of this.#connections) socket.write(bytes);
    return this.#connections.size;
  }

  async close(): Promise<void> {
    for (const socket of this.#connections) socket.destroy();
    await this.#stopListening();
  }

  async #stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  async #serve(socket: net.Socket): Promise<void> {
    socket.on("error", () => socket.destroy());
    let transport: ScaleTransport;
    try {
      transport = await this.sim.open(this.sim.info);
    } catch {
      socket.destroy();
      return;
    }
    this.#connections.add(socket);
    const decoder = new FrameDecoder("host");
    socket.on("data", (chunk) => {
      try {
        for (const frame of decoder.push(chunk))
          if (frame.type === "output") void transport.write(frame.report);
      } catch {
        // A host that breaks the framing is cut off, as a USB device would stall the pipe.
        socket.destroy();
      }
    });
    socket.on("close", () => {
      this.#connections.delete(socket);
      void transport.close();
    });
    const { vendorId, productId, product, serialNumber } = this.sim.info;
    socket.write(
      helloFrame({
        protocol: SOCKET_PROTOCOL_VERSION,
        vendorId,
        productId,
        ...(product === undefined ? {} : { product }),
        ...(serialNumber === undefined ? {} : { serialNumber }),
      }),
    );
    while (!socket.destroyed) {
      try {
        const report = await transport.read(1_000);
        if (!socket.destroyed) socket.write(encodeFrame(FrameType.input, report));
      } catch (e) {
        if (isTermhostError(e, "TIMEOUT")) continue;
        socket.destroy();
      }
    }
  }
}
