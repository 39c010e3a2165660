/**
 * SIGHUP → reload (device profiles, log level) without dropping clients, framed by RELOADING=1 and
 * READY=1 so the service manager knows when `systemctl reload` has taken effect. A failed reload
 * keeps the previous settings and still ends with READY=1: the daemon goes on serving.
 */
import { isTermhostError } from "../../errors/errors.js";
import type { Notifier } from "./notify.js";

export type ReloadResult =
  | { readonly ok: true; readonly status: string }
  | { readonly ok: false; readonly error: unknown };

interface SignalSource {
  on(signal: "SIGHUP", listener: () => void): unknown;
  off(signal: "SIGHUP", listener: () => void): unknown;
}

export interface ReloadOptions {
  notifier: Pick<Notifier, "reloading" | "ready">;
  /** Re-reads what can change at run time; resolves with a status line for the service manager. */
  reload: () => Promise<string>;
  /** Each reload's result, for the log (a signal has no caller to return it to). */
  onResult?: (result: ReloadResult) => void;
  /** Where SIGHUP comes from; the process unless given. */
  signals?: SignalSource;
}

function describe(e: unknown): string {
  if (isTermhostError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

export class ReloadHandler {
  private readonly signals: SignalSource;
  private current: Promise<ReloadResult> | undefined;
  private again = false;
  private readonly onSignal = (): void => {
    void this.trigger();
  };

  constructor(private readonly opts: ReloadOptions) {
    this.signals = opts.signals ?? process;
  }

  install(): void {
    this.signals.on("SIGHUP", this.onSignal);
  }

  dispose(): void {
    this.signals.off("SIGHUP", this.onSignal);
  }

  /**
   * Reloads now. A request while a reload runs is folded into one more reload after it, which sees
   * files changed after the first one read them; both callers get that last result.
   */
  trigger(): Promise<ReloadResult> {
    if (this.current !== undefined) {
      this.again = true;
      return this.current;
    }
    const run = this.loop();
    this.current = run;
    return run;
  }

  private async loop(): Promise<ReloadResult> {
    let result: ReloadResult;
    try {
      do {
        this.again = false;
        result = await this.once();
      } while (this.again);
    } finally {
      this.current = undefined;
    }
    return result;
  }

  private async once(): Promise<ReloadResult> {
    const { notifier, reload, onResult } = this.opts;
    // A notification that cannot be sent must not stop the reload itself.
    await notifier.reloading("reloading").catch(() => {});
    let result: ReloadResult;
    try {
      result = { ok: true, status: await reload() };
    } catch (error) {
      result = { ok: false, error };
    }
    const status = result.ok
      ? result.status
      : `reload failed, previous settings kept: ${describe(result.error)}`;
    await notifier.ready(status).catch(() => {});
    onResult?.(result);
    return result;
  }
}
