import { isAbsolute, join } from "node:path";
import type { Logger } from "pino";
import { IssuerHostAuthorizer } from "../authorize/issuer-host.js";
import { SamAuthorizer } from "../authorize/sam.js";
import { CardDevices } from "../cards/card-devices.js";
import { DesfireFamily } from "../desfire/family/desfire-family.js";
import { desfireCardOps } from "../desfire/family/session-ops.js";
import { type Journal, JournalSupervisor, openJournal } from "../journal/index.js";
import { identifyCard } from "../pcsc/profiles/identify.js";
import type { DeviceProfiles } from "../pcsc/profiles/load.js";
import type { ReaderManager } from "../pcsc/reader-manager.js";
import { currencyNumeric } from "../purse/currency.js";
import { authorityOf, PurseFamily } from "../purse/engine/purse-family.js";
import { SAM_AID } from "../purse/messages/index.js";
import { ValueEngine } from "../value/engine.js";
import { type ValueRecords, type ValueState, valueJournalOptions } from "../value/records.js";
import { type ValueConfig, valueRetention } from "./value-config.js";
import type { ReaderGuard } from "./virtual-readers.js";

export interface ValueService {
  engine: ValueEngine;
  journal: Journal<ValueRecords, ValueState, unknown>;
  close(): Promise<void>;
}

/** The reader holding the SAM: the configured one, or the one whose card's profile is the SAM application. */
function samLocator(
  config: ValueConfig,
  readers: ReaderManager,
  profiles: DeviceProfiles,
): () => string | undefined {
  const samAid = SAM_AID.toString("hex");
  return () => {
    const present = readers.list().filter((r) => r.card === "present");
    const configured = config.authorizer.kind === "sam" ? config.authorizer.reader : undefined;
    if (configured !== undefined) return present.some((r) => r.name === configured) ? configured : undefined;
    return present.find((r) => {
      if (r.atr === null) return false;
      const aid = identifyCard(Buffer.from(r.atr, "hex"), profiles.cards)?.application?.aid;
      return aid !== undefined && aid.replace(/\s/g, "").toLowerCase() === samAid;
    })?.name;
  };
}

function withoutKind<T extends { kind: string }>(c: T): Omit<T, "kind"> {
  const { kind: _kind, ...rest } = c;
  return rest;
}

export async function startValueService(
  config: ValueConfig,
  stateDir: string,
  readers: ReaderManager,
  profiles: DeviceProfiles,
  log: Logger,
  guard: ReaderGuard,
): Promise<ValueService> {
  const path = isAbsolute(config.journal) ? config.journal : join(stateDir, config.journal);
  const retention = valueRetention(config);
  let engine: ValueEngine | undefined;
  /**
   * A journal that failed a write refuses appends until reopened: value requests get
   * JOURNAL_WRITE_FAILED, reads go on, and the engine decides nothing until it has re-read the
   * reopened file (the failed write may or may not be in it).
   */
  const supervisor = await JournalSupervisor.open<Journal<ValueRecords, ValueState, unknown>>({
    name: "value journal",
    path,
    retryMs: config.retryMs,
    log,
    open: (onEvent) =>
      openJournal({
        path,
        ...valueJournalOptions(retention),
        onEvent,
      }) as unknown as Promise<Journal<ValueRecords, ValueState, unknown>>,
    onReopened: (journal) => engine?.replaceJournal(journal),
  });
  log.info({ path, recovery: supervisor.journal.recovery }, "value journal open");
  const samReader = samLocator(config, readers, profiles);
  engine = new ValueEngine({
    journal: supervisor.journal,
    currencies: config.currencies.map((c) => currencyNumeric(c) ?? 0),
    limits: config.limits,
    retryMs: config.retryMs,
    log: log.child({ part: "value" }),
  });
  const authorizer =
    config.authorizer.kind === "issuer"
      ? new IssuerHostAuthorizer(withoutKind(config.authorizer))
      : new SamAuthorizer({
          reader: samReader,
          // A simulated SAM in a virtual reader authorizes nothing in production.
          withCard: (reader, fn) => {
            guard.check(reader);
            return readers.withCard(reader, "exclusive", fn);
          },
        });
  const terminalId = Buffer.from(config.terminalId, "hex");
  engine.addDevices(
    guard.devices(
      new CardDevices({
        readers,
        authority: authorityOf(authorizer),
        samReader,
        families: [
          ...(config.desfire !== undefined && authorizer instanceof SamAuthorizer
            ? [
                new DesfireFamily({
                  authorizer,
                  terminalId,
                  currency: currencyNumeric(config.desfire.currency) ?? 0,
                  maxBalance: config.limits.maxBalance,
                  ops: desfireCardOps,
                }),
              ]
            : []),
          new PurseFamily({ authorizer, terminalId, maxBalance: config.limits.maxBalance }),
        ],
      }),
    ),
  );
  const running = engine;
  return {
    engine: running,
    get journal() {
      return supervisor.journal;
    },
    close: async () => {
      running.stop();
      await running.idle();
      await supervisor.close();
    },
  };
}
