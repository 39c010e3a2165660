export type { EventTopic } from "../api/schemas/events.js";
export { type ErrorCode, isTermhostError, TermhostError } from "../errors/errors.js";
export { AdminClient, type ClientOptions, TermhostClient } from "./client.js";
export type { ReconnectOptions } from "./connection.js";
export type { EventItem, EventStream, EventStreamOptions, GapItem, StreamItem } from "./event-stream.js";
