import { createServer, connect as netConnect, type Server, type Socket } from "node:net";

export type ProxyTarget = { path: string } | { host: string; port: number };

/**
 * One accepted connection and its upstream. Bytes already read when the link is paused are held in
 * `pending`, in order, with the FIN that followed them (`null`).
 */
class Link {
  private paused: boolean;
  private readonly pending: Array<{ to: Socket; data: Buffer | null }> = [];
  /** Sources stopped because their destination's write buffer is full; drain resumes them. */
  private readonly blocked = new Set<Socket>();
  private deferredClose: { from: Socket; hadError: boolean } | undefined;

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    paused: boolean,
    private readonly tcpUpstream: boolean,
    onGone: () => void,
  ) {
    this.paused = paused;
    if (paused) {
      client.pause();
      upstream.pause();
    }
    this.wire(client, upstream);
    this.wire(upstream, client);
    let closed = 0;
    const countClose = (): void => {
      closed += 1;
      if (closed === 2) onGone();
    };
    client.once("close", countClose);
    upstream.once("close", countClose);
  }

  pause(): void {
    this.paused = true;
    this.client.pause();
    this.upstream.pause();
  }

  resume(): void {
    this.paused = false;
    for (const { to, data } of this.pending.splice(0))
      this.deliver(to === this.client ? this.upstream : this.client, to, data);
    if (this.deferredClose) {
      const { from, hadError } = this.deferredClose;
      this.deferredClose = undefined;
      this.propagateClose(from, hadError);
    }
    for (const s of [this.client, this.upstream]) if (!this.blocked.has(s) && !s.destroyed) s.resume();
  }

  /** Abrupt end of both sides: an RST on every TCP socket, a plain close on a unix one. */
  cut(): void {
    this.client.resetAndDestroy();
    if (this.tcpUpstream) this.upstream.resetAndDestroy();
    else this.upstream.destroy();
  }

  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  private wire(from: Socket, to: Socket): void {
    // Errors end in 'close', which is where the other side learns of them.
    from.on("error", () => undefined);
    from.on("data", (data: Buffer) => {
      if (this.paused) this.pending.push({ to, data });
      else this.deliver(from, to, data);
    });
    from.on("end", () => {
      if (this.paused) this.pending.push({ to, data: null });
      else this.deliver(from, to, null);
    });
    from.on("close", (hadError: boolean) => {
      if (this.paused) this.deferredClose ??= { from, hadError };
      else this.propagateClose(from, hadError);
    });
  }

  private deliver(from: Socket, to: Socket, data: Buffer | null): void {
    if (to.destroyed) return;
    if (data === null) {
      to.end();
      return;
    }
    if (!to.write(data)) {
      from.pause();
      this.blocked.add(from);
      to.once("drain", () => {
        this.blocked.delete(from);
        if (!this.paused && !from.destroyed) from.resume();
      });
    }
  }

  private propagateClose(from: Socket, hadError: boolean): void {
    const other = from === this.client ? this.upstream : this.client;
    if (other.destroyed) return;
    if (hadError) other.destroy();
    else other.end();
  }
}

/**
 * A TCP proxy on 127.0.0.1 whose network can go silent. pause() stops reading on both sides of
 * every connection without closing anything: no FIN, no RST, no bytes, so the client sees a peer
 * that went quiet, as behind a dead link. New connections accepted while paused are connected
 * upstream but carry nothing.
 *
 * resume() delivers what was held back, in order, and then any close that happened meanwhile, as
 * TCP retransmission does once a partition heals; nothing is dropped (dropping part of a stream
 * would corrupt the protocol, which no real network does to TCP).
 *
 * Not simulated: TCP keepalive probes are answered by this machine's kernel, paused or not, so
 * only application-level timeouts see the silence.
 */
export class BlackholeProxy {
  private readonly links = new Set<Link>();
  private isPaused = false;

  private constructor(
    private readonly server: Server,
    private readonly target: ProxyTarget,
  ) {
    server.on("connection", (client) => this.accept(client));
  }

  static async start(target: ProxyTarget): Promise<BlackholeProxy> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const proxy = new BlackholeProxy(server, target);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("proxy is not listening");
    return address.port;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** Connections whose two sides are not both closed yet. */
  get connections(): number {
    return this.links.size;
  }

  pause(): void {
    this.isPaused = true;
    for (const link of this.links) link.pause();
  }

  resume(): void {
    this.isPaused = false;
    for (const link of this.links) link.resume();
  }

  /** Every current connection ends abruptly; the proxy keeps accepting new ones. */
  cut(): void {
    for (const link of this.links) link.cut();
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const link of this.links) link.destroy();
    await closed;
  }

  private accept(client: Socket): void {
    const upstream =
      "path" in this.target
        ? netConnect({ path: this.target.path, allowHalfOpen: true })
        : netConnect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    const link = new Link(client, upstream, this.isPaused, !("path" in this.target), () =>
      this.links.delete(link),
    );
    this.links.add(link);
    if (!this.isPaused) client.resume();
  }
}
