import type { RpcServer } from "../../jsonrpc/server.js";
import type { EventHub } from "../events.js";
import { EventsMethods } from "../schemas/events.js";

export function registerEventMethods(server: RpcServer, hub: EventHub): void {
  server.register("events.subscribe", EventsMethods["events.subscribe"], (params, conn) => ({
    topics: hub.subscribe(conn, params.topics),
  }));
  server.register("events.unsubscribe", EventsMethods["events.unsubscribe"], (params, conn) => ({
    topics: hub.unsubscribe(conn, params.topics),
  }));
}
