import type { ReaderManager, ReaderView } from "../pcsc/reader-manager.js";
import type { EventHub } from "./events.js";

/** Publishes the reader manager's changes on the `readers`, `cards` and `system` topics. */
export function publishReaderEvents(readers: ReaderManager, hub: EventHub): () => void {
  const onReaderAdded = (reader: ReaderView): void =>
    hub.publish("readers", { kind: "reader-added", reader });
  const onReaderRemoved = (name: string): void => hub.publish("readers", { kind: "reader-removed", name });
  const onCardInserted = (reader: ReaderView): void =>
    hub.publish("cards", { kind: "card-inserted", reader });
  const onCardRemoved = (reader: ReaderView): void => hub.publish("cards", { kind: "card-removed", reader });
  const onUp = (): void => hub.publish("system", { kind: "pcsc-up" });
  const onDown = (reason: string): void => hub.publish("system", { kind: "pcsc-down", reason });
  readers.on("reader-added", onReaderAdded);
  readers.on("reader-removed", onReaderRemoved);
  readers.on("card-inserted", onCardInserted);
  readers.on("card-removed", onCardRemoved);
  readers.on("service-up", onUp);
  readers.on("service-down", onDown);
  return () => {
    readers.off("reader-added", onReaderAdded);
    readers.off("reader-removed", onReaderRemoved);
    readers.off("card-inserted", onCardInserted);
    readers.off("card-removed", onCardRemoved);
    readers.off("service-up", onUp);
    readers.off("service-down", onDown);
  };
}
