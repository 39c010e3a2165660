/**
 * Sockets handed over by the service manager, as sd_listen_fds(3) defines them: LISTEN_PID names the
 * process they are meant for, LISTEN_FDS counts them from fd 3 on, LISTEN_FDNAMES names them in the
 * same order (colon-separated; the socket unit's FileDescriptorName=).
 */
import { TermhostError } from "../../errors/errors.js";

/** The first passed descriptor (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;
/** More than this is a mangled variable, not a real hand-over. */
const MAX_LISTEN_FDS = 64;
/** sd_listen_fds_with_names' name for a descriptor that came without one. */
export const UNNAMED_FD = "unknown";

export interface ListenFd {
  readonly fd: number;
  readonly name: string;
}

export interface ListenFds {
  /** In the order the service manager passed them. */
  readonly fds: readonly ListenFd[];
  /** Name → descriptor; names are unique, so a socket is found by what it is for. */
  readonly named: ReadonlyMap<string, number>;
}

const NONE: ListenFds = { fds: [], named: new Map() };

export type Env = Record<string, string | undefined>;

function invalid(message: string, variable: string, value: string): TermhostError {
  return new TermhostError("SERVICE_ENV_INVALID", message, {
    hint: "the service manager set a malformed socket hand-over; check the socket units (docs/service.md)",
    context: { variable, value },
  });
}

function decimal(value: string, variable: string): number {
  if (!/^[0-9]{1,10}$/.test(value)) throw invalid(`${variable} is not a decimal number`, variable, value);
  return Number.parseInt(value, 10);
}

/**
 * The sockets passed to process `pid`, or none when LISTEN_PID is absent or names another process
 * (the variables were inherited from a parent that was the real recipient). Pure: reads `env` only.
 */
export function parseListenFds(env: Env, pid: number): ListenFds {
  const pidText = env.LISTEN_PID;
  const countText = env.LISTEN_FDS;
  if (pidText === undefined || countText === undefined) return NONE;
  if (decimal(pidText, "LISTEN_PID") !== pid) return NONE;
  const count = decimal(countText, "LISTEN_FDS");
  if (count > MAX_LISTEN_FDS)
    throw invalid(`LISTEN_FDS=${count} is more than ${MAX_LISTEN_FDS}`, "LISTEN_FDS", countText);
  if (count === 0) return NONE;

  const namesText = env.LISTEN_FDNAMES;
  const names = namesText === undefined ? Array<string>(count).fill(UNNAMED_FD) : namesText.split(":");
  if (namesText !== undefined && names.length !== count) {
    throw invalid(
      `LISTEN_FDNAMES has ${names.length} names for LISTEN_FDS=${count} descriptors`,
      "LISTEN_FDNAMES",
      namesText,
    );
  }
  const fds: ListenFd[] = [];
  const named = new Map<string, number>();
  names.forEach((raw, i) => {
    const name = raw === "" ? UNNAMED_FD : raw;
    const fd = LISTEN_FDS_START + i;
    if (named.has(name)) {
      throw new TermhostError("SERVICE_ENV_INVALID", `two passed sockets are both named "${name}"`, {
        hint: "give each socket unit its own FileDescriptorName= (api, admin) so the daemon can tell them apart",
        context: { variable: "LISTEN_FDNAMES", value: namesText ?? "" },
      });
    }
    named.set(name, fd);
    fds.push({ fd, name });
  });
  return { fds, named };
}

/**
 * Reads this process's sockets and removes the three variables, as sd_listen_fds(1) does, so that
 * a child never mistakes them for its own. Removes them even when the input is malformed.
 */
export function takeListenFds(env: Env = process.env, pid: number = process.pid): ListenFds {
  try {
    return parseListenFds(env, pid);
  } finally {
    delete env.LISTEN_PID;
    delete env.LISTEN_FDS;
    delete env.LISTEN_FDNAMES;
  }
}
