import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { z } from "zod";
import { TermhostError } from "../../src/errors/errors.js";
import type { RpcServer } from "../../src/jsonrpc/server.js";
import type { SimCard } from "../cards/sim-card.js";
import { ApduRecorder } from "../record/recorder.js";
import type { CardSpec } from "../scenario.js";
import type { ViccLink } from "../vicc/vicc-link.js";
import { SlotStatus } from "./methods.js";

/** What the reader and recording controls need of a slot of the card simulator. */
export interface ControlledSlot {
  readonly index: number;
  readonly link: ViccLink;
  readonly card: SimCard | undefined;
  readonly spec: CardSpec | undefined;
  plugged: boolean;
  /** The card was in the reader when it was unplugged: replugging brings it back. */
  insertedAtUnplug: boolean;
  recorder: ApduRecorder | undefined;
}

const SlotParam = z.object({ slot: z.number().int().min(0) }).strict();

export const RecordedFixture = z.object({
  slot: z.number().int(),
  card: z.string().nullable(),
  exchanges: z.number().int(),
  /** The fixture: `=> ` / `<= ` lines and `#` comments, as `scriptedTransmit` replays it. */
  text: z.string(),
  /** Where it was written, when `dir` was given. */
  path: z.string().nullable(),
});

export const SlotControlMethods = {
  "reader.unplug": {
    description:
      "unplug the slot's reader: its card connection drops and card.insert is refused until reader.replug",
    params: SlotParam,
    result: SlotStatus,
  },
  "reader.replug": {
    description: "plug the slot's reader back in; a card that was in it at unplug time is back in it",
    params: SlotParam,
    result: SlotStatus,
  },
  "sim.record.start": {
    description:
      "start recording the APDU exchanges of these slots (all when left out), from an empty record",
    params: z.object({ slots: z.array(z.number().int().min(0)).optional() }).strict(),
    result: z.object({ recording: z.array(z.number().int()) }),
  },
  "sim.record.stop": {
    description:
      "stop recording; returns each slot's fixture and writes it to `dir`/slot-<n>.apdu when given",
    params: z.object({ dir: z.string().min(1).optional() }).strict(),
    result: z.object({ fixtures: z.array(RecordedFixture) }),
  },
} as const;

export interface SlotControlDeps {
  slot(index: number): ControlledSlot;
  all(): readonly ControlledSlot[];
  status(s: ControlledSlot): z.infer<typeof SlotStatus>;
  log: Logger;
}

/** Called by card.insert: an unplugged reader takes no card. */
export function assertPlugged(s: ControlledSlot): void {
  if (!s.plugged) {
    throw new TermhostError("READER_UNAVAILABLE", `the reader of slot ${s.index} is unplugged`, {
      hint: "reader.replug first",
      context: { slot: s.index },
    });
  }
}

/** Records a slot's exchanges while its recorder is set; wired once per slot. */
export function recordSlot(s: ControlledSlot): void {
  s.link.on("apdu", (command, response) => s.recorder?.exchange(command, response));
  s.link.on("control", (code) => s.recorder?.control(code));
  s.link.on("closed", () => s.recorder?.note("card connection closed"));
}

export function registerSlotControls(rpc: RpcServer, deps: SlotControlDeps): void {
  const M = SlotControlMethods;
  rpc.register("reader.unplug", M["reader.unplug"], ({ slot }) => {
    const s = deps.slot(slot);
    if (s.plugged) {
      s.insertedAtUnplug = s.link.connected;
      s.plugged = false;
      s.recorder?.note("reader unplugged");
      s.link.remove();
      deps.log.info({ slot }, "reader unplugged");
    }
    return deps.status(s);
  });
  rpc.register("reader.replug", M["reader.replug"], async ({ slot }) => {
    const s = deps.slot(slot);
    if (!s.plugged) {
      s.plugged = true;
      s.recorder?.note("reader plugged in");
      if (s.insertedAtUnplug && s.card !== undefined && !s.link.connected) await s.link.insert(s.card);
      deps.log.info({ slot }, "reader replugged");
    }
    return deps.status(s);
  });
  rpc.register("sim.record.start", M["sim.record.start"], ({ slots }) => {
    const chosen = slots === undefined ? deps.all() : slots.map((i) => deps.slot(i));
    for (const s of chosen) {
      s.recorder = new ApduRecorder(`slot ${s.index}: ${describeCard(s.spec)}`);
    }
    deps.log.info({ slots: chosen.map((s) => s.index) }, "recording APDUs");
    return { recording: chosen.map((s) => s.index) };
  });
  rpc.register("sim.record.stop", M["sim.record.stop"], ({ dir }) => {
    if (dir !== undefined) mkdirSync(dir, { recursive: true });
    const fixtures = deps
      .all()
      .filter((s) => s.recorder !== undefined)
      .map((s) => {
        const rec = s.recorder as ApduRecorder;
        s.recorder = undefined;
        const path = dir === undefined ? null : join(dir, `slot-${s.index}.apdu`);
        if (path !== null) writeFileSync(path, rec.text());
        return {
          slot: s.index,
          card: s.spec?.kind ?? null,
          exchanges: rec.exchanges,
          text: rec.text(),
          path,
        };
      });
    return { fixtures };
  });
}

function describeCard(spec: CardSpec | undefined): string {
  if (spec === undefined) return "no card";
  if (spec.kind === "purse") return `purse card ${spec.cardId}`;
  if (spec.kind === "sam") return "SAM";
  if (spec.kind === "desfire") return `DESFire card ${spec.uid}`;
  return `card with application ${spec.aid}`;
}
