/**
 * sd_notify(3) for a Node process. Node cannot open AF_UNIX datagram sockets, so each message is
 * sent by the `systemd-notify` helper, which systemd installs wherever it sets NOTIFY_SOCKET. The
 * helper waits (a notify barrier) until the manager has read the message, so a message is never
 * lost to the helper exiting first; messages go one at a time, so they arrive in order. Because the
 * sender is the helper, the unit needs NotifyAccess=all. Cost and reasoning: docs/service.md.
 */
import { spawn } from "node:child_process";
import { TermhostError } from "../../errors/errors.js";
import type { Env } from "./listen-fds.js";

export interface NotifyEnv {
  /** NOTIFY_SOCKET: a path, or an abstract socket name starting with "@". */
  readonly socket: string | undefined;
  /** WATCHDOG_USEC when it is meant for this process and a socket is set. */
  readonly watchdogUsec: number | undefined;
}

function invalid(variable: string, value: string, why: string): TermhostError {
  return new TermhostError("SERVICE_ENV_INVALID", `${variable}=${value}: ${why}`, {
    hint: "the service manager set a malformed notification environment; check termhostd.service",
    context: { variable, value },
  });
}

/** Pure: what sd_notify and sd_watchdog_enabled would make of `env` for process `pid`. */
export function parseNotifyEnv(env: Env, pid: number): NotifyEnv {
  const socket = env.NOTIFY_SOCKET === "" ? undefined : env.NOTIFY_SOCKET;
  if (socket !== undefined && !socket.startsWith("/") && !socket.startsWith("@")) {
    throw invalid("NOTIFY_SOCKET", socket, "expected an absolute path or an abstract name (@…)");
  }
  const usecText = env.WATCHDOG_USEC;
  if (socket === undefined || usecText === undefined) return { socket, watchdogUsec: undefined };
  if (!/^[0-9]{1,19}$/.test(usecText) || Number(usecText) === 0) {
    throw invalid("WATCHDOG_USEC", usecText, "expected a positive number of microseconds");
  }
  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined) {
    if (!/^[0-9]{1,10}$/.test(pidText)) throw invalid("WATCHDOG_PID", pidText, "expected a process id");
    if (Number(pidText) !== pid) return { socket, watchdogUsec: undefined };
  }
  return { socket, watchdogUsec: Number(usecText) };
}

/** Sends one message: its `KEY=VALUE` fields, delivered as one datagram. */
export type NotifySender = (fields: readonly string[]) => Promise<void>;

export interface HelperSenderOptions {
  socket: string;
  /** The daemon's pid, sent as MAINPID with READY=1. */
  pid: number;
  /** The helper; found on PATH unless given. */
  binary?: string;
  /** Ends a helper that outlives this (its own barrier gives up after 5 s). */
  timeoutMs?: number;
}

const HELPER_TIMEOUT_MS = 10_000;
const STDERR_LIMIT = 2048;

/** A sender that runs `systemd-notify` per message. */
export function helperSender(opts: HelperSenderOptions): NotifySender {
  const binary = opts.binary ?? "systemd-notify";
  const timeoutMs = opts.timeoutMs ?? HELPER_TIMEOUT_MS;
  return (fields) =>
    new Promise<void>((resolve, reject) => {
      const args = fields.includes("READY=1") ? [`--pid=${opts.pid}`, ...fields] : [...fields];
      const fail = (why: string, cause?: unknown): void =>
        reject(
          new TermhostError("SERVICE_NOTIFY_FAILED", `${binary} ${fields.join(" ")}: ${why}`, {
            hint: "the service manager did not get this notification; check that systemd-notify is installed",
            context: { fields: [...fields] },
            cause,
          }),
        );
      const child = spawn(binary, args, {
        // Only what the helper needs: the listening sockets' variables stay out of it.
        env: { NOTIFY_SOCKET: opts.socket, PATH: process.env.PATH ?? "/usr/bin:/bin" },
        stdio: ["ignore", "ignore", "pipe"],
        timeout: timeoutMs,
      });
      let stderr = "";
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        if (stderr.length < STDERR_LIMIT) stderr += chunk.slice(0, STDERR_LIMIT - stderr.length);
      });
      child.once("error", (e) => fail(e.message, e));
      child.once("close", (code, signal) => {
        if (code === 0) resolve();
        else if (signal !== null) fail(`ended by ${signal} after ${timeoutMs} ms or earlier`);
        else fail(`exit ${code}: ${stderr.trim()}`);
      });
    });
}

/** One line of free text: a newline in a status would start a field of its own. */
function oneLine(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 1024);
}

/** CLOCK_MONOTONIC in microseconds; Node's hrtime reads the same clock on Linux. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

export interface NotifierOptions {
  /** Read (and cleared) when absent: process.env. */
  env?: Env;
  pid?: number;
  /** Replaces the systemd-notify helper (tests). */
  send?: NotifySender;
  binary?: string;
  /** Failures of watchdog pings, which have no caller to reject to. */
  onError?: (e: unknown) => void;
}

/** sd_notify when NOTIFY_SOCKET is set; every method is a no-op otherwise. */
export class Notifier {
  readonly enabled: boolean;
  /** Half of WATCHDOG_USEC, in ms: the ping period; undefined when the watchdog is off. */
  readonly watchdogIntervalMs: number | undefined;
  private readonly send: NotifySender | undefined;
  private readonly onError: (e: unknown) => void;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;
  private pingQueued = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(env: NotifyEnv, opts: NotifierOptions = {}) {
    this.enabled = env.socket !== undefined;
    this.watchdogIntervalMs =
      env.watchdogUsec === undefined ? undefined : Math.max(1, Math.floor(env.watchdogUsec / 2000));
    this.onError = opts.onError ?? (() => {});
    if (env.socket !== undefined) {
      const helper: HelperSenderOptions = { socket: env.socket, pid: opts.pid ?? process.pid };
      if (opts.binary !== undefined) helper.binary = opts.binary;
      this.send = opts.send ?? helperSender(helper);
    }
  }

  /**
   * From the environment, which it then clears (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID) so that
   * no child process notifies or pings in the daemon's name.
   */
  static fromEnv(opts: NotifierOptions = {}): Notifier {
    const env = opts.env ?? process.env;
    try {
      return new Notifier(parseNotifyEnv(env, opts.pid ?? process.pid), opts);
    } finally {
      delete env.NOTIFY_SOCKET;
      delete env.WATCHDOG_USEC;
      delete env.WATCHDOG_PID;
    }
  }

  /**
   * Start-up is complete: send only once the journal is recovered and the sockets listen. Dropped
   * once STOPPING=1 was asked for (a stop signal during start-up or a reload): the manager must see
   * STOPPING last, and READY=1 after it would undo it.
   */
  ready(status?: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return this.enqueue(status === undefined ? ["READY=1"] : ["READY=1", `STATUS=${oneLine(status)}`]);
  }

  status(text: string): Promise<void> {
    return this.enqueue([`STATUS=${oneLine(text)}`]);
  }

  /**
   * A reload began; READY=1 ends it. MONOTONIC_USEC lets the manager match it to its request.
   * Dropped once stopping, like READY=1.
   */
  reloading(status?: string): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const fields = ["RELOADING=1", `MONOTONIC_USEC=${monotonicUsec()}`];
    if (status !== undefined) fields.push(`STATUS=${oneLine(status)}`);
    return this.enqueue(fields);
  }

  /**
   * STOPPING=1 ends the pings: the manager watches a stopping service by its stop timeout, not the
   * watchdog, and a ping timed after STOPPING would reach it out of order. The timer is cleared
   * here, not at close(), because the shutdown steps run between the two; a ping already queued
   * but not yet handed to a helper is dropped, so STOPPING does not wait behind it.
   */
  stopping(status?: string): Promise<void> {
    this.stopWatchdog();
    this.stopped = true;
    return this.enqueue(status === undefined ? ["STOPPING=1"] : ["STOPPING=1", `STATUS=${oneLine(status)}`]);
  }

  /** Asks for `ms` more from now before the start or stop timeout fires. */
  extendTimeout(ms: number): Promise<void> {
    return this.enqueue([`EXTEND_TIMEOUT_USEC=${Math.max(0, Math.round(ms)) * 1000}`]);
  }

  /** One keep-alive; a ping still waiting its turn makes another one pointless. */
  watchdog(): Promise<void> {
    if (this.send === undefined || this.pingQueued || this.stopped) return Promise.resolve();
    this.pingQueued = true;
    return this.enqueue(["WATCHDOG=1"], () => {
      this.pingQueued = false;
      return !this.stopped;
    });
  }

  /**
   * Pings every WatchdogSec/2 from a timer on the event loop, so a loop that is blocked for the
   * whole WatchdogSec misses two pings and the manager restarts the daemon. The timer is unref'd.
   */
  startWatchdog(): void {
    if (
      this.watchdogIntervalMs === undefined ||
      this.send === undefined ||
      this.timer !== undefined ||
      this.stopped
    )
      return;
    this.timer = setInterval(() => {
      this.watchdog().catch(this.onError);
    }, this.watchdogIntervalMs);
    this.timer.unref();
  }

  stopWatchdog(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops pinging and waits until every queued message is delivered or has failed. */
  async close(): Promise<void> {
    this.stopWatchdog();
    await this.queue;
  }

  /** `onTurn` runs when the message's turn comes; returning false drops it unsent. */
  private enqueue(fields: string[], onTurn?: () => boolean): Promise<void> {
    const send = this.send;
    if (send === undefined) return Promise.resolve();
    // `queue` never rejects: a failed message is reported to its caller and the next one still goes.
    const run = this.queue.then(() => (onTurn === undefined || onTurn() ? send(fields) : undefined));
    this.queue = run.catch(() => {});
    return run;
  }
}
