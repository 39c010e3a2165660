import type { Logger } from "pino";
import type { JournalEvent } from "./types.js";

/** What the supervisor needs of a journal: it closes the failed one and logs the new one's recovery. */
export interface SupervisedJournal {
  close(): Promise<void>;
  readonly recovery: unknown;
}

export interface SupervisorOptions<J> {
  /** For the log: "value journal", "postage journal". */
  readonly name: string;
  readonly path: string;
  /** Opens the journal, handing `onEvent` on to `openJournal` so the supervisor hears failures. */
  readonly open: (onEvent: (event: JournalEvent) => void) => Promise<J>;
  /** Pause between attempts at reopening a failed journal. */
  readonly retryMs: number;
  readonly log?: Logger | undefined;
  /** The reopened journal: its state is what the file holds, re-read. */
  readonly onReopened?: (journal: J) => void;
}

/**
 * Keeps one journal open across write failures. A journal that failed a write it cannot vouch for
 * (a failed flush, an undo that failed) refuses every append; only a reopen, which recovers from
 * the file, tells what reached the disk. The supervisor closes it and reopens it as soon as the
 * disk allows, then hands the new journal to its owner, who decides again from what was re-read.
 */
export class JournalSupervisor<J extends SupervisedJournal> {
  private current!: J;
  private closed = false;
  private reopening: Promise<void> | null = null;

  private constructor(private readonly o: SupervisorOptions<J>) {}

  static async open<J extends SupervisedJournal>(o: SupervisorOptions<J>): Promise<JournalSupervisor<J>> {
    const s = new JournalSupervisor<J>(o);
    s.current = await o.open((e) => s.onEvent(e));
    return s;
  }

  get journal(): J {
    return this.current;
  }

  /** Resolves once a reopen in progress is over (at once when none is). */
  settled(): Promise<void> {
    return this.reopening ?? Promise.resolve();
  }

  private onEvent(event: JournalEvent): void {
    const { log, name, path } = this.o;
    if (event.kind === "failed") this.reopenAfterFailure(event.error.message);
    if (event.kind === "compaction-failed")
      log?.warn(
        { path, err: event.error.message, hint: event.error.hint },
        `${name} not compacted; it grows until a compaction succeeds`,
      );
  }

  private reopenAfterFailure(reason: string): void {
    if (this.reopening !== null || this.closed) return;
    const { log, name, path } = this.o;
    const failed = this.current;
    log?.error({ path, reason }, `${name} failed; reopening it once the disk takes writes`);
    this.reopening = (async () => {
      await failed.close().catch(() => undefined);
      while (!this.closed) {
        await new Promise((r) => setTimeout(r, this.o.retryMs));
        if (this.closed) return;
        try {
          this.current = await this.o.open((e) => this.onEvent(e));
        } catch (e) {
          log?.warn({ path, err: (e as Error).message }, `${name} still cannot be opened`);
          continue;
        }
        log?.info({ path, recovery: this.current.recovery }, `${name} reopened`);
        this.o.onReopened?.(this.current);
        return;
      }
    })().finally(() => {
      this.reopening = null;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reopening;
    await this.current.close();
  }
}
