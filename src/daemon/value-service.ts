import { isAbsolute, join } from "node:path";
import type { Logger } from "pino";
import { IssuerHostAuthorizer } from "../authorize/issuer-host.js";
import { SamAuthorizer } from "../authorize/sam.js";
import { type Journal, openJournal } from "../journal/index.js";
import { identifyCard } from "../pcsc/profiles/identify.js";
import type { DeviceProfiles } from "../pcsc/profiles/load.js";
import type { ReaderManager } from "../pcsc/reader-manager.js";
import { currencyNumeric } from "../purse/currency.js";
import { PurseDevices } from "../purse/engine/purse-devices.js";
import { SAM_AID } from "../purse/messages/index.js";
import { ValueEngine } from "../value/engine.js";
import {
  emptyValueState,
  reduceValue,
  type ValueRecords,
  type ValueState,
  ValueRecords as valueRecordTypes,
  valueSnapshot,
} from "../value/records.js";
import type { ValueConfig } from "./value-config.js";
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
  let reopening = false;
  let closed = false;
  const open = (): Promise<Journal<ValueRecords, ValueState, unknown>> =>
    openJournal({
      path,
      types: valueRecordTypes,
      initialState: emptyValueState,
      reduce: reduceValue,
      snapshot: valueSnapshot(config.retainClosedDays * 86_400_000),
      onEvent: (event) => {
        if (event.kind === "failed") void reopenAfterFailure(event.error.message);
        if (event.kind === "compaction-failed")
          log.warn(
            { path, err: event.error.message, hint: event.error.hint },
            "value journal not compacted; it grows until a compaction succeeds",
          );
      },
    }) as unknown as Promise<Journal<ValueRecords, ValueState, unknown>>;
  let journal = await open();
  /**
   * A journal that failed a write (disk full, I/O error) refuses appends until reopened: value
   * requests get JOURNAL_WRITE_FAILED, reads go on, and it is reopened — recovering from the file,
   * so nothing committed is lost — as soon as the disk takes writes again.
   */
  const reopenAfterFailure = async (reason: string): Promise<void> => {
    if (reopening || closed) return;
    reopening = true;
    log.error({ path, reason }, "value journal failed; reopening it once the disk takes writes");
    await journal.close().catch(() => undefined);
    while (!closed) {
      await new Promise((r) => setTimeout(r, config.retryMs));
      try {
        journal = await open();
        engine.replaceJournal(journal);
        log.info({ path, recovery: journal.recovery }, "value journal reopened");
        break;
      } catch (e) {
        log.warn({ path, err: (e as Error).message }, "value journal still cannot be opened");
      }
    }
    reopening = false;
  };
  log.info({ path, recovery: journal.recovery }, "value journal open");
  const samReader = samLocator(config, readers, profiles);
  const engine = new ValueEngine({
    journal,
    currencies: config.currencies.map((c) => currencyNumeric(c) ?? 0),
    limits: config.limits,
    retryMs: config.retryMs,
    log: log.child({ part: "value" }),
  });
  engine.addDevices(
    guard.devices(
      new PurseDevices({
        readers,
        authorizer:
          config.authorizer.kind === "issuer"
            ? new IssuerHostAuthorizer(withoutKind(config.authorizer))
            : new SamAuthorizer({
                reader: samReader,
                // A simulated SAM in a virtual reader authorizes nothing in production.
                withCard: (reader, fn) => {
                  guard.check(reader);
                  return readers.withCard(reader, "exclusive", fn);
                },
              }),
        samReader,
        terminalId: Buffer.from(config.terminalId, "hex"),
        maxBalance: config.limits.maxBalance,
      }),
    ),
  );
  return {
    engine,
    get journal() {
      return journal;
    },
    close: async () => {
      closed = true;
      engine.stop();
      await engine.idle();
      await journal.close();
    },
  };
}
