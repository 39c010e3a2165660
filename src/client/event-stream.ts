import type { EventTopic } from "../api/schemas/events.js";

export interface EventItem {
  type: "event";
  topic: EventTopic;
  /** Per connection; restarts at 1 after a reconnect (a `gap` item comes first). */
  seq: number;
  time: string;
  data: unknown;
}

/**
 * Events may have been missed here: re-read the state you depend on (e.g. `system.status`).
 * `reconnected`: the daemon connection was lost and is back (the daemon may have restarted);
 * `dropped`: the daemon dropped this connection because it fell behind its event queue bound;
 * `overflow`: this iterator's own buffer was full because the loop consuming it is too slow.
 */
export interface GapItem {
  type: "gap";
  reason: "reconnected" | "dropped" | "overflow";
}

export type StreamItem = EventItem | GapItem;

export interface EventStreamOptions {
  signal?: AbortSignal;
  /** Items held for a consumer that is not pulling; beyond it they are discarded and a gap reported. */
  maxBuffered?: number;
}

/**
 * An async iterator over one client's events. The socket is always read (replies to calls must not
 * wait behind unread events), so the buffer is bounded instead: a consumer that falls behind by more
 * than `maxBuffered` loses the buffered events and gets one `gap` item in their place.
 */
export class EventStream implements AsyncIterableIterator<StreamItem> {
  private readonly buffer: StreamItem[] = [];
  private readonly maxBuffered: number;
  private wake: (() => void) | undefined;
  private ended = false;
  private failure: Error | undefined;

  constructor(
    readonly topics: ReadonlySet<EventTopic>,
    options: EventStreamOptions,
    private readonly onEnd: (stream: EventStream) => void,
  ) {
    this.maxBuffered = options.maxBuffered ?? 1000;
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.end();
      else signal.addEventListener("abort", () => this.end(), { once: true });
    }
  }

  push(item: StreamItem): void {
    if (this.ended) return;
    if (item.type === "gap" && this.buffer.at(-1)?.type === "gap") return;
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer.length = 0;
      this.buffer.push({ type: "gap", reason: "overflow" });
    }
    this.buffer.push(item);
    this.signal();
  }

  /** Ends the iteration with an error (e.g. the subscription was refused). */
  fail(err: Error): void {
    if (this.ended) return;
    this.failure = err;
    this.end();
  }

  async next(): Promise<IteratorResult<StreamItem>> {
    for (;;) {
      const item = this.buffer.shift();
      if (item !== undefined) return { value: item, done: false };
      if (this.failure !== undefined) {
        const err = this.failure;
        this.failure = undefined;
        throw err;
      }
      if (this.ended) return { value: undefined, done: true };
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  async return(): Promise<IteratorResult<StreamItem>> {
    this.end();
    this.buffer.length = 0;
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StreamItem> {
    return this;
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    this.signal();
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
