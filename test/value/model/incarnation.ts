import { join } from "node:path";
import pino from "pino";
import {
  type Journal,
  type JournalFs,
  JournalSupervisor,
  nodeFs,
  openJournal,
  type SyncMode,
} from "../../../src/journal/index.js";
import { ValueEngine, type ValueLimits } from "../../../src/value/engine.js";
import {
  DEFAULT_RETENTION,
  type ValueRecords,
  type ValueRetention,
  type ValueState,
  valueJournalOptions,
} from "../../../src/value/records.js";
import { FaultPlan, type World } from "./world.js";

type ValueJournal = Journal<ValueRecords, ValueState, unknown>;

const eio = (what: string) => Object.assign(new Error(`EIO: ${what} (injected)`), { code: "EIO" });

/**
 * The journal's file operations with faults at its durable writes, which are effect points of the
 * plan like the devices' calls: `throw-before` fails the write and the undo works (the record is
 * gone), `throw-after` writes, reports failure and fails the undo too (the record is on disk; the
 * journal cannot say), `crash` writes and the process dies before anyone hears of it. A dead
 * incarnation writes nothing.
 */
export function faultyFs(plan: FaultPlan, base: JournalFs = nodeFs): JournalFs {
  let failUndo = false;
  return {
    ...bind(base),
    // The journal writes with O_DSYNC: each write is its flush, and the effect point.
    write: async (fd, buf, off, len, pos) => {
      if (plan.dead) throw eio("write after death");
      if (!plan.armed) return base.write(fd, buf, off, len, pos);
      const index = plan.points.length;
      plan.points.push("journal.write");
      if (index !== plan.at) return base.write(fd, buf, off, len, pos);
      if (plan.fault === "throw-before") throw eio("write");
      const n = await base.write(fd, buf, off, len, pos);
      if (plan.fault === "throw-after") {
        failUndo = true;
        throw eio("write reported failed after it reached the disk");
      }
      plan.crashed = true;
      plan.dead = true;
      plan.onCrash();
      void n;
      throw eio("write, then the power went");
    },
    ftruncate: (fd, len) => {
      if (plan.dead) return Promise.reject(eio("truncate after death"));
      if (failUndo) {
        failUndo = false;
        return Promise.reject(eio("undo"));
      }
      return base.ftruncate(fd, len);
    },
    fdatasync: (fd) => (plan.dead ? Promise.reject(eio("flush after death")) : base.fdatasync(fd)),
  };
}

/** The methods of `f` bound to it, so a spread keeps working for class-based file systems. */
function bind(f: JournalFs): JournalFs {
  return {
    open: f.open.bind(f),
    close: f.close.bind(f),
    read: f.read.bind(f),
    write: f.write.bind(f),
    fdatasync: f.fdatasync.bind(f),
    fsync: f.fsync.bind(f),
    ftruncate: f.ftruncate.bind(f),
    fstatSize: f.fstatSize.bind(f),
    rename: f.rename.bind(f),
    link: f.link.bind(f),
    unlink: f.unlink.bind(f),
    exists: f.exists.bind(f),
  };
}

export interface IncarnationOptions {
  /** The disk under the journal (default: the real one). */
  disk?: JournalFs;
  sync?: SyncMode;
  limits?: Partial<ValueLimits>;
  currencies?: number[];
  retention?: ValueRetention;
}

/** One life of the daemon's value service over the world: a journal (supervised) and an engine. */
export class Incarnation {
  private constructor(
    readonly plan: FaultPlan,
    readonly supervisor: JournalSupervisor<ValueJournal>,
    readonly engine: ValueEngine,
  ) {}

  static async start(
    world: World,
    dir: string,
    plan = new FaultPlan(),
    o: IncarnationOptions = {},
  ): Promise<Incarnation> {
    const fs = faultyFs(plan, o.disk ?? nodeFs);
    const retention = o.retention ?? DEFAULT_RETENTION;
    const path = join(dir, "value.journal");
    let engine: ValueEngine | undefined;
    const supervisor = await JournalSupervisor.open<ValueJournal>({
      name: "value journal",
      path,
      retryMs: 5,
      open: (onEvent) =>
        openJournal({
          path,
          ...valueJournalOptions(retention),
          fs,
          ...(o.sync === undefined ? {} : { sync: o.sync }),
          onEvent,
        }) as unknown as Promise<ValueJournal>,
      onReopened: (j) => engine?.replaceJournal(j),
    });
    engine = new ValueEngine({
      journal: supervisor.journal,
      currencies: o.currencies ?? [978],
      limits: {
        maxBalance: 1_000_000,
        maxSingleLoad: 100_000,
        maxSingleDebit: 100_000,
        dailyLoadTotal: 10_000_000,
        ...o.limits,
      },
      retryMs: 5,
      maxRetryMs: 20,
      log: pino({ level: "silent" }),
    });
    engine.addDevices(world.devices(plan));
    return new Incarnation(plan, supervisor, engine);
  }

  /** kill -9: nothing more of this life reaches the world or the disk. */
  async kill(): Promise<void> {
    this.plan.dead = true;
    this.engine.stop();
    await this.engine.idle();
    await this.supervisor.close().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.engine.stop();
    await this.engine.idle();
    await this.supervisor.close();
  }
}
