import type { Command } from "commander";
import { EventTopicData } from "../../api/schemas/index.js";
import type { EventItem } from "../../client/event-stream.js";
import type { LoadedCardList } from "../../pcsc/card-list/index.js";
import type { CardProfile } from "../../pcsc/profiles/index.js";
import { explainAtr, formatAtr } from "../atr-explain.js";
import { CARD_LIST_OPTION_HELP, cardListOrNone } from "../card-list.js";
import { cyan, dim, green, yellow } from "../colour.js";
import type { CliContext } from "../context.js";
import { cardProfilesOrNone, defaultProfilesDir } from "../profiles.js";
import { intOption } from "./options.js";

interface MonitorOptions {
  count?: number;
  for?: number;
  profiles: string;
  cardList?: string;
}

interface Naming {
  cards: readonly CardProfile[];
  list: LoadedCardList | undefined;
}

function describeEvent(item: EventItem, naming: Naming): string {
  const time = dim(item.time);
  if (item.topic === "readers") {
    const d = EventTopicData.readers.parse(item.data);
    return d.kind === "reader-added"
      ? `${time} ${green("reader added")}    ${d.reader.name}`
      : `${time} ${yellow("reader removed")}  ${d.name}`;
  }
  if (item.topic === "cards") {
    const d = EventTopicData.cards.parse(item.data);
    if (d.kind === "card-removed") return `${time} ${yellow("card removed")}   ${d.reader.name}`;
    const head = `${time} ${green("card inserted")}  ${d.reader.name}`;
    return d.reader.atr === null
      ? head
      : `${head}\n${formatAtr(explainAtr(d.reader.atr, naming.cards, naming.list), "    ")}`;
  }
  const d = EventTopicData.system.safeParse(item.data);
  if (d.success)
    return `${time} ${cyan(d.data.kind)}${d.data.kind === "pcsc-down" ? `  ${d.data.reason}` : ""}`;
  return `${time} ${item.topic} ${JSON.stringify(item.data)}`;
}

export function registerMonitor(program: Command, ctx: CliContext): void {
  program
    .command("monitor")
    .description(
      "live reader and card events, with each card's ATR explained (like pcsc_scan); Ctrl-C ends it",
    )
    .option("--count <n>", "end after this many events", intOption)
    .option("--for <ms>", "end after this many milliseconds", intOption)
    .option("--profiles <dir>", "device-profiles folder for matching ATRs", defaultProfilesDir())
    .option("--card-list <file>", CARD_LIST_OPTION_HELP)
    .addHelpText(
      "after",
      "\nWith --json, one JSON object per line: {topic, seq, time, data} as the `event` notification, or {gap}.\n\nExamples:\n  termhost monitor\n  termhost --json monitor --count 2 --for 30000",
    )
    .action((o: MonitorOptions) =>
      ctx.api(async (c) => {
        const naming: Naming = {
          cards: await cardProfilesOrNone(o.profiles, (why) => ctx.note(`termhost: ${why}`)),
          list: ctx.json ? undefined : cardListOrNone(o.cardList, (why) => ctx.note(why)),
        };
        const stop = new AbortController();
        const onSignal = (): void => stop.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        const timer = o.for === undefined ? undefined : setTimeout(onSignal, o.for);
        const stream = c.events(["readers", "cards", "system"], { signal: stop.signal });
        try {
          // The current state first, so a card already in a reader is explained too.
          const s = await c.status();
          if (!ctx.json) {
            for (const r of s.readers) {
              process.stdout.write(`${r.name}: ${r.card}\n`);
              if (r.atr !== null)
                process.stdout.write(`${formatAtr(explainAtr(r.atr, naming.cards, naming.list), "    ")}\n`);
            }
          }
          // On stderr in both modes: scripts and tests may wait for it before making events happen.
          process.stderr.write(dim("waiting for events (Ctrl-C to end)\n"));
          let seen = 0;
          for await (const item of stream) {
            if (item.type === "gap") {
              process.stdout.write(
                ctx.json
                  ? `${JSON.stringify({ gap: item.reason })}\n`
                  : `${yellow(`events may be missing (${item.reason})`)}\n`,
              );
              continue;
            }
            const { type: _t, ...note } = item;
            process.stdout.write(ctx.json ? `${JSON.stringify(note)}\n` : `${describeEvent(item, naming)}\n`);
            if (o.count !== undefined && ++seen >= o.count) break;
          }
        } finally {
          clearTimeout(timer);
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
          await stream.return();
        }
      }, true),
    );
}
