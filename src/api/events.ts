import type { Logger } from "pino";
import type { Connection } from "../jsonrpc/server.js";
import type { EventData, EventNotification, EventsDropped, EventTopic } from "./schemas/events.js";

export interface EventQueueLimits {
  /** Events a subscriber may leave unread before it is dropped. */
  maxQueuedEvents: number;
  maxQueuedBytes: number;
}

/**
 * Output the socket may hold before events wait in the subscriber's own queue instead: small, so
 * that the bound that matters is the counted queue below, not the kernel's and Node's buffers.
 */
const SOCKET_HIGH_WATER = 64 << 10;

interface Pending {
  note: EventNotification;
  bytes: number;
}

class Subscriber {
  readonly topics = new Set<EventTopic>();
  private seq = 0;
  private readonly queue: Pending[] = [];
  private queuedBytes = 0;
  dropped = false;

  constructor(
    readonly conn: Connection,
    private readonly limits: EventQueueLimits,
    private readonly onDrop: (sub: Subscriber, info: EventsDropped) => void,
  ) {
    conn.onDrain(() => this.flush());
  }

  deliver(topic: EventTopic, time: string, data: unknown, bytes: number): void {
    if (this.dropped || this.conn.closed) return;
    this.seq++;
    const note: EventNotification = { topic, seq: this.seq, time, data };
    if (this.queue.length === 0 && this.conn.writableLength < SOCKET_HIGH_WATER) {
      this.conn.notify("event", note);
      return;
    }
    this.queue.push({ note, bytes });
    this.queuedBytes += bytes;
    if (this.queue.length > this.limits.maxQueuedEvents || this.queuedBytes > this.limits.maxQueuedBytes) {
      this.drop();
    }
  }

  private flush(): void {
    while (this.queue.length > 0 && this.conn.writableLength < SOCKET_HIGH_WATER && !this.conn.closed) {
      const next = this.queue.shift() as Pending;
      this.queuedBytes -= next.bytes;
      this.conn.notify("event", next.note);
    }
  }

  private drop(): void {
    this.dropped = true;
    const info: EventsDropped = {
      reason: "queue-full",
      queued: this.queue.length,
      queuedBytes: this.queuedBytes,
      limit: { events: this.limits.maxQueuedEvents, bytes: this.limits.maxQueuedBytes },
    };
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.onDrop(this, info);
  }
}

/**
 * Fans events out to subscribed connections. Each subscriber has a bounded queue: a client that
 * falls behind by more than the bound gets one `events.dropped` notification and is disconnected,
 * so a slow reader costs the daemon at most its bound, and the client knows it lost events (the
 * client library reconnects and resubscribes, and reports the gap).
 */
export class EventHub {
  private readonly subscribers = new Map<number, Subscriber>();
  private readonly taps: Array<(topic: EventTopic, data: unknown) => void> = [];
  /** Subscribers dropped for falling behind, since start (a metric). */
  dropped = 0;

  constructor(
    private readonly limits: EventQueueLimits,
    private readonly log: Logger,
  ) {}

  /** Sees every published event, subscribed or not (the metrics count from here). */
  tap(fn: (topic: EventTopic, data: unknown) => void): void {
    this.taps.push(fn);
  }

  publish<T extends EventTopic>(topic: T, data: EventData<T>): void {
    for (const fn of this.taps) fn(topic, data);
    let bytes: number | undefined;
    let time: string | undefined;
    for (const sub of this.subscribers.values()) {
      if (!sub.topics.has(topic)) continue;
      // Measured once per event, not per subscriber: the queue bound is an estimate of what we hold.
      bytes ??= JSON.stringify(data).length + 96;
      time ??= new Date().toISOString();
      sub.deliver(topic, time, data, bytes);
    }
  }

  subscribe(conn: Connection, topics: readonly EventTopic[]): EventTopic[] {
    let sub = this.subscribers.get(conn.id);
    if (sub === undefined) {
      sub = new Subscriber(conn, this.limits, (s, info) => this.dropSubscriber(s, info));
      this.subscribers.set(conn.id, sub);
      conn.onClose(() => this.subscribers.delete(conn.id));
    }
    for (const t of topics) sub.topics.add(t);
    return [...sub.topics];
  }

  unsubscribe(conn: Connection, topics: readonly EventTopic[] | undefined): EventTopic[] {
    const sub = this.subscribers.get(conn.id);
    if (sub === undefined) return [];
    if (topics === undefined) sub.topics.clear();
    else for (const t of topics) sub.topics.delete(t);
    return [...sub.topics];
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  private dropSubscriber(sub: Subscriber, info: EventsDropped): void {
    this.subscribers.delete(sub.conn.id);
    this.dropped++;
    this.log.warn(
      { conn: sub.conn.id, ...info },
      "subscriber fell behind its event queue bound; disconnecting it",
    );
    sub.conn.notify("events.dropped", info);
    sub.conn.close();
  }
}
