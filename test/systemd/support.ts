import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "../../src/util/paths.js";

/**
 * A systemd tool the tests need. Missing is a set-up error, not a reason to skip: on Debian they
 * come with the `systemd` package (present on an installed system, absent from minimal containers).
 */
export function systemdTool(name: string): string {
  for (const dir of ["/usr/bin", "/bin"]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  throw new Error(
    `${name} is missing: install the Debian package 'systemd' (make test installs what the suite needs)`,
  );
}

export interface TempInstall {
  /** The install prefix, inside `scratch`. */
  readonly prefix: string;
  /** Deletes the scratch folder. */
  remove(): void;
}

/** Runs scripts/install.sh into a fresh temporary prefix. */
export function installIntoTemp(env: NodeJS.ProcessEnv = process.env): TempInstall {
  const scratch = mkdtempSync(join(tmpdir(), "termhost-install-"));
  const prefix = join(scratch, "prefix");
  execFileSync("bash", [join(projectRoot(), "scripts/install.sh"), prefix], { stdio: "pipe", env });
  return { prefix, remove: () => rmSync(scratch, { recursive: true, force: true }) };
}

export function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Datagram {
  /** When the test process read it. */
  readonly at: number;
  readonly fields: readonly string[];
}

export interface NotifyReceiver {
  readonly path: string;
  readonly messages: Datagram[];
  /** Resolves once a message with `field` has arrived. */
  waitFor(field: string, timeoutMs: number): Promise<Datagram>;
  close(): void;
}

/**
 * A NOTIFY_SOCKET for tests. Node cannot bind an AF_UNIX datagram socket, so perl (Essential on
 * Debian) binds it and prints one line per datagram. Its plain recv() drops the descriptor a
 * notify barrier carries, which releases the sender exactly as the service manager does.
 */
export async function startNotifyReceiver(dir: string): Promise<NotifyReceiver> {
  const path = join(dir, "notify.sock");
  const script = [
    "use Socket;",
    'socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";',
    'bind($s, pack_sockaddr_un($ARGV[0])) or die "bind: $!";',
    '$| = 1; print "listening\\n";',
    'while (defined(recv($s, my $m, 65536, 0))) { $m =~ s/\\n/\\x1f/g; print "$m\\n"; }',
  ].join(" ");
  const child: ChildProcess = spawn("perl", ["-e", script, path], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: Datagram[] = [];
  const waiters = new Set<() => void>();
  let buffered = "";
  let listening!: () => void;
  const ready = new Promise<void>((resolve, reject) => {
    listening = resolve;
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the perl notify receiver exited with ${code}`)));
  });
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line === "listening") listening();
      else messages.push({ at: Date.now(), fields: line.split("\x1f") });
    }
    for (const w of waiters) w();
  });
  await ready;
  return {
    path,
    messages,
    waitFor: (field, timeoutMs) =>
      new Promise<Datagram>((resolve, reject) => {
        const check = (): void => {
          const m = messages.find((d) => d.fields.includes(field));
          if (m === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${field} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
    close: () => {
      child.kill("SIGKILL");
    },
  };
}
