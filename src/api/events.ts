import type { Logger } from "pino";
import type { Connection } from "../jsonrpc/server.js";
import type { EventData, EventsDropped, EventTopic } from "./schemas/events.js";

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
  /** The whole notification, encoded. */
  json: string;
  bytes: number;
}

/** One published event, encoded once for all its subscribers but for each one's seq. */
interface Encoded {
  /** `{"jsonrpc":"2.0","method":"event","params":{"topic":…,"seq":` */
  readonly head: string;
  /** `,"time":…,"data":…}}`: the rest, as JSON.stringify would write the notification. */
  readonly tail: string;
}

function encodeEvent(topic: EventTopic, time: string, dataJson: string | undefined): Encoded {
  const data = dataJson === undefined ? "" : `,"data":${dataJson}`;
  return {
    head: `{"jsonrpc":"2.0","method":"event","params":{"topic":${JSON.stringify(topic)},"seq":`,
    tail: `,"time":${JSON.stringify(time)}${data}}}`,
  };
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

  deliver(event: Encoded, bytes: number): void {
    if (this.dropped || this.conn.closed) return;
    this.seq++;
    const json = `${event.head}${this.seq}${event.tail}`;
    if (this.queue.length === 0 && this.conn.writableLength < SOCKET_HIGH_WATER) {
      this.conn.sendEncoded(json);
      return;
    }
    this.queue.push({ json, bytes });
    this.queuedBytes += bytes;
    if (this.queue.length > this.limits.maxQueuedEvents || this.queuedBytes > this.limits.maxQueuedBytes) {
      this.drop();
    }
  }

  private flush(): void {
    while (this.queue.length > 0 && this.conn.writableLength < SOCKET_HIGH_WATER && !this.conn.closed) {
      const next = this.queue.shift() as Pending;
      this.queuedBytes -= next.bytes;
      this.conn.sendEncoded(next.json);
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
    let bytes = 0;
    let event: Encoded | undefined;
    for (const sub of this.subscribers.values()) {
      if (!sub.topics.has(topic)) continue;
      // Encoded once per event, not per subscriber; the queue bound counts that size for each.
      if (event === undefined) {
        const dataJson = JSON.stringify(data) as string | undefined;
        event = encodeEvent(topic, new Date().toISOString(), dataJson);
        bytes = event.head.length + event.tail.length + 16;
      }
      sub.deliver(event, bytes);
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
