import { z } from "zod";
import { ScaleEventData } from "./scale.js";

/**
 * Event topics. Each domain publishes to its own topic; a client subscribes to the topics it cares
 * about. `data` of each topic is described by `EventTopicData` below.
 */
export const EventTopic = z.enum(["readers", "cards", "value", "restore", "postage", "scale", "system"]);
export type EventTopic = z.infer<typeof EventTopic>;

const ReaderState = z.object({
  name: z.string(),
  card: z.enum(["absent", "present", "mute", "unavailable"]),
  atr: z.string().nullable(),
  inUse: z.boolean(),
  since: z.string(),
});

/**
 * What `data` holds on each topic. Topics whose domain has not described its events yet carry any
 * JSON object; that domain's schema file replaces the entry.
 */
export const EventTopicData = {
  readers: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("reader-added"), reader: ReaderState }),
    z.object({ kind: z.literal("reader-removed"), name: z.string() }),
  ]),
  cards: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("card-inserted"), reader: ReaderState }),
    z.object({ kind: z.literal("card-removed"), reader: ReaderState }),
  ]),
  system: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("pcsc-up") }),
    z.object({ kind: z.literal("pcsc-down"), reason: z.string() }),
  ]),
  value: z.record(z.string(), z.unknown()),
  restore: z.record(z.string(), z.unknown()),
  postage: z.record(z.string(), z.unknown()),
  scale: ScaleEventData,
} as const satisfies Record<EventTopic, z.ZodType>;
export type EventData<T extends EventTopic> = z.input<(typeof EventTopicData)[T]>;

export const EventNotification = z.object({
  topic: EventTopic,
  /** 1, 2, 3… per connection, across all its topics: a gap means events were lost. */
  seq: z.number().int().positive(),
  time: z.string(),
  data: z.unknown(),
});
export type EventNotification = z.infer<typeof EventNotification>;

export const EventsDropped = z.object({
  reason: z.enum(["queue-full"]),
  /** Events waiting for this client when it was dropped. */
  queued: z.number().int().nonnegative(),
  queuedBytes: z.number().int().nonnegative(),
  limit: z.object({ events: z.number().int(), bytes: z.number().int() }),
});
export type EventsDropped = z.infer<typeof EventsDropped>;

const TopicList = z.array(EventTopic).min(1).max(EventTopic.options.length);
const Subscribed = z.object({ topics: z.array(EventTopic) });

export const EventsMethods = {
  "events.subscribe": {
    description:
      "adds topics to this connection's subscription; `event` notifications follow until unsubscribed or closed",
    params: z.object({ topics: TopicList }).strict(),
    result: Subscribed,
  },
  "events.unsubscribe": {
    description: "removes the given topics (all when `topics` is absent) from this connection's subscription",
    params: z.object({ topics: TopicList.optional() }).strict(),
    result: Subscribed,
  },
} as const;

/** Notifications the daemon sends (JSON-RPC requests without id); a client never answers them. */
export const Notifications = {
  event: {
    description: "one event on a subscribed topic",
    params: EventNotification,
  },
  "events.dropped": {
    description:
      "the last line before the daemon closes a connection whose unread events exceeded the queue bound",
    params: EventsDropped,
  },
} as const;
