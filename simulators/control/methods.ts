import { z } from "zod";
import { DesfireFaultSpec, PurseFaultSpec } from "../scenario.js";

/** The simulator's control socket: what a test rig can do to the simulated hardware. */
export const SlotStatus = z.object({
  slot: z.number().int(),
  port: z.number().int(),
  card: z.string().nullable(),
  inserted: z.boolean(),
  /** False after reader.unplug until reader.replug. */
  plugged: z.boolean(),
  powered: z.boolean(),
  apdus: z.number().int(),
  /** Command APDUs waiting unanswered because the slot is stalled. */
  held: z.number().int(),
});

export const ControlMethods = {
  "sim.status": {
    description: "slots, their cards and whether each is inserted",
    params: z.object({}).strict(),
    result: z.object({ slots: z.array(SlotStatus) }),
  },
  "card.insert": {
    description: "insert the slot's card (connect it to vpcd)",
    params: z.object({ slot: z.number().int().min(0) }).strict(),
    result: SlotStatus,
  },
  "card.tear": {
    description:
      "arm a one-shot fault on the slot's purse or DESFire card: tear a CREDIT or DEBIT (purse) or CommitTransaction (DESFire) at a point, lose a command's answer, vanish at the n-th APDU from now, or forge an answer; a torn card drops its connection",
    params: z
      .object({ slot: z.number().int().min(0), fault: z.union([PurseFaultSpec, DesfireFaultSpec]) })
      .strict(),
    result: SlotStatus,
  },
  "card.stall": {
    description:
      "stall (or release) the slot: its command APDUs get no answer until released, then their normal one",
    params: z.object({ slot: z.number().int().min(0), stalled: z.boolean() }).strict(),
    result: SlotStatus,
  },
  "card.remove": {
    description: "pull the slot's card (drop its vpcd connection at once)",
    params: z.object({ slot: z.number().int().min(0) }).strict(),
    result: SlotStatus,
  },
} as const;
