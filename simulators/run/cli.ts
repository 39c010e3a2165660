import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { TermhostError } from "../../src/errors/errors.js";
import { RpcClient } from "../../src/jsonrpc/client.js";
import { defaultSimControl } from "../kiosk.js";
import { loadKioskScenario } from "./load-scenario.js";
import { runScenario } from "./run-kiosk.js";

async function call(control: string, method: string, params: object = {}): Promise<void> {
  const client = await RpcClient.connect(control);
  try {
    process.stdout.write(`${JSON.stringify(await client.call(method, params), null, 2)}\n`);
  } finally {
    client.close();
  }
}

function int(what: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n))
    throw new TermhostError("INVALID_PARAMS", `${what}: expected an integer, got ${text}`);
  return n;
}

/** `termhost-sim run` and the commands that drive a running kiosk through its control socket. */
export function addRunCommands(program: Command): void {
  program
    .command("run")
    .description("start a whole simulated kiosk from a scenario file (docs/hil.md)")
    .requiredOption("--scenario <file>", "scenario file (YAML, or JSON when it ends in .json)")
    .option("--state <dir>", "state directory: cards, meters, ledgers, journals (default: a fresh one)")
    .option("--daemon", "also start termhostd on the simulated kiosk", false)
    .option("--socket <path>", "the daemon's API socket")
    .option("--control <path>", "the kiosk's control socket (default: linked from the default path)")
    .option("--record <dir>", "record every slot's APDUs; written as slot-<n>.apdu when the kiosk stops")
    .option("--no-netns", "do not use a quickack network namespace (slower APDUs)")
    .action(
      async (opts: {
        scenario: string;
        state?: string;
        daemon: boolean;
        socket?: string;
        control?: string;
        record?: string;
        netns: boolean;
      }) => {
        const scenario = loadKioskScenario(opts.scenario);
        await runScenario({
          scenario,
          stateDir: resolve(opts.state ?? mkdtempSync(join(tmpdir(), "termhost-kiosk-state-"))),
          daemon: opts.daemon,
          netns: opts.netns,
          ...(opts.socket === undefined ? {} : { socket: opts.socket }),
          ...(opts.control === undefined ? {} : { control: opts.control }),
          ...(opts.record === undefined ? {} : { record: resolve(opts.record) }),
        });
        process.exit(0);
      },
    );

  const cmd = (spec: string, description: string): Command =>
    program
      .command(spec)
      .description(description)
      .option("--control <path>", "the simulated kiosk's control socket", defaultSimControl());

  cmd("call <method> [params]", "call any control method with JSON params (see docs/hil.md)").action(
    (method: string, params: string | undefined, o: { control: string }) =>
      call(o.control, method, params === undefined ? {} : (JSON.parse(params) as object)),
  );
  cmd("tear <slot>", "arm a one-shot fault on a purse card: tear its next CREDIT/DEBIT, or vanish at APDU n")
    .option("--command <name>", "CREDIT or DEBIT", "CREDIT")
    .option("--when <point>", "before-commit | mid-write | after-commit-before-response", "mid-write")
    .option("--apdu <n>", "instead: vanish at the n-th APDU from now")
    .action((slot: string, o: { control: string; command: string; when: string; apdu?: string }) =>
      call(o.control, "card.tear", {
        slot: int("slot", slot),
        fault: o.apdu === undefined ? { command: o.command, when: o.when } : { apdu: int("--apdu", o.apdu) },
      }),
    );
  cmd("unplug <slot>", "unplug a slot's reader: its card drops, no insert until replug").action(
    (slot: string, o: { control: string }) => call(o.control, "reader.unplug", { slot: int("slot", slot) }),
  );
  cmd("replug <slot>", "plug a slot's reader back in (with the card it held)").action(
    (slot: string, o: { control: string }) => call(o.control, "reader.replug", { slot: int("slot", slot) }),
  );
  cmd("restart-pcscd", "kill pcscd and start a fresh one; inserted cards come back")
    .option("--signal <sig>", "SIGKILL or SIGTERM", "SIGKILL")
    .action((o: { control: string; signal: string }) =>
      call(o.control, "pcscd.restart", { signal: o.signal }),
    );

  const meterCmd = (spec: string, description: string): Command =>
    cmd(spec, description).option("--meter <serial>", "which meter (needed when there are several)");
  const withMeter = (o: { meter?: string }, params: object): object =>
    o.meter === undefined ? params : { ...params, meter: o.meter };
  meterCmd("cable-cut", "cut a meter's serial line (bytes are lost both ways)")
    .option("--after-bytes <n>", "let this many more bytes through first", "0")
    .action((o: { control: string; meter?: string; afterBytes: string }) =>
      call(o.control, "meter.cut", withMeter(o, { afterBytes: int("--after-bytes", o.afterBytes) })),
    );
  meterCmd("cable-restore", "reconnect a meter's serial line").action(
    (o: { control: string; meter?: string }) => call(o.control, "meter.restore", withMeter(o, {})),
  );
  meterCmd("corrupt <bytes>", "flip every bit of the next n bytes on a meter's line")
    .option("--direction <dir>", "fromMeter or toMeter", "fromMeter")
    .action((bytes: string, o: { control: string; meter?: string; direction: string }) =>
      call(o.control, "meter.corrupt", withMeter(o, { bytes: int("bytes", bytes), direction: o.direction })),
    );
  meterCmd("meter-delay <ms>", "make a meter answer late (0 clears it)").action(
    (ms: string, o: { control: string; meter?: string }) =>
      call(o.control, "meter.delay", withMeter(o, { ms: int("ms", ms) })),
  );
  meterCmd("meter-status", "a meter's registers and line state").action(
    (o: { control: string; meter?: string }) => call(o.control, "meter.status", withMeter(o, {})),
  );

  cmd("issuer-behave", "make the issuer host misbehave; no option makes it normal again")
    .option("--decline <all|amount>", "decline every load, or those above an amount")
    .option("--stall", "hold answers until issuer-release")
    .option("--delay-ms <ms>", "answer this late")
    .option("--fail", "answer 500")
    .option("--drop", "cut answers half-way")
    .option("--times <n>", "the faults hit this many requests, then clear")
    .action(
      (o: {
        control: string;
        decline?: string;
        stall?: boolean;
        delayMs?: string;
        fail?: boolean;
        drop?: boolean;
        times?: string;
      }) =>
        call(o.control, "issuer.behave", {
          ...(o.decline === undefined
            ? {}
            : { decline: o.decline === "all" ? "all" : { above: int("--decline", o.decline) } }),
          ...(o.stall === true ? { stall: true } : {}),
          ...(o.delayMs === undefined ? {} : { delayMs: int("--delay-ms", o.delayMs) }),
          ...(o.fail === true ? { fail: true } : {}),
          ...(o.drop === true ? { drop: true } : {}),
          ...(o.times === undefined ? {} : { times: int("--times", o.times) }),
        }),
    );
  cmd("issuer-release", "let the issuer's stalled answers go").action((o: { control: string }) =>
    call(o.control, "issuer.release"),
  );
  cmd("record-start [slots...]", "record the APDUs of these slots (all by default)").action(
    (slots: string[], o: { control: string }) =>
      call(
        o.control,
        "sim.record.start",
        slots.length === 0 ? {} : { slots: slots.map((s) => int("slot", s)) },
      ),
  );
  cmd("record-stop", "stop recording and print (or write) each slot's fixture")
    .option("--dir <dir>", "write slot-<n>.apdu files here")
    .action((o: { control: string; dir?: string }) =>
      call(o.control, "sim.record.stop", o.dir === undefined ? {} : { dir: resolve(o.dir) }),
    );
}
