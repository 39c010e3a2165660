import type { Logger } from "pino";
import type { z } from "zod";
import { SIMULATOR_DESFIRE_MASTER_KEYS_HEX } from "../src/desfire/protocol/keys.js";
import { TermhostError } from "../src/errors/errors.js";
import { RpcServer } from "../src/jsonrpc/server.js";
import { DesfireCard } from "./cards/desfire/desfire-card.js";
import { PurseCard } from "./cards/purse/purse-card.js";
import { SamCard } from "./cards/sam/sam-card.js";
import { SelectCard } from "./cards/select-card.js";
import type { SimCard } from "./cards/sim-card.js";
import { ControlMethods, type SlotStatus } from "./control/methods.js";
import { assertPlugged, recordSlot, registerSlotControls } from "./control/slot-controls.js";
import type { ApduRecorder } from "./record/recorder.js";
import {
  type CardSpec,
  DesfireFaultSpec,
  PurseFaultSpec,
  type Scenario,
  SIMULATOR_MASTER_KEY_HEX,
} from "./scenario.js";
import { ViccLink } from "./vicc/vicc-link.js";

interface Slot {
  index: number;
  port: number;
  link: ViccLink;
  card: SimCard | undefined;
  spec: CardSpec | undefined;
  apdus: number;
  plugged: boolean;
  insertedAtUnplug: boolean;
  recorder: ApduRecorder | undefined;
}

function makeCard(spec: CardSpec): SimCard {
  switch (spec.kind) {
    case "select":
      return new SelectCard(Buffer.from(spec.atr, "hex"), Buffer.from(spec.aid, "hex"), spec.style);
    case "purse":
      return new PurseCard({
        masterKey: Buffer.from(spec.masterKey ?? SIMULATOR_MASTER_KEY_HEX, "hex"),
        statePath: spec.statePath,
        initial: {
          cardId: Buffer.from(spec.cardId, "hex"),
          currency: spec.currency,
          maxBalance: spec.maxBalance,
          balance: spec.balance ?? 0,
          counter: spec.counter ?? 0,
        },
        faults: spec.faults ?? [],
      });
    case "desfire":
      return new DesfireCard({
        uid: Buffer.from(spec.uid, "hex"),
        masterKeys: (spec.masterKeys ?? SIMULATOR_DESFIRE_MASTER_KEYS_HEX).map((h) => Buffer.from(h, "hex")),
        statePath: spec.statePath,
        initial: {
          ...(spec.balance === undefined ? {} : { balance: spec.balance }),
          ...(spec.upperLimit === undefined ? {} : { upperLimit: spec.upperLimit }),
          ...(spec.limitedCreditEnabled === undefined
            ? {}
            : { limitedCreditEnabled: spec.limitedCreditEnabled }),
        },
        ev1Only: spec.ev1Only ?? false,
        ...(spec.diversifyForUid === undefined
          ? {}
          : { diversifyForUid: Buffer.from(spec.diversifyForUid, "hex") }),
        faults: spec.faults ?? [],
      });
    case "sam":
      return new SamCard({
        masterKey: Buffer.from(spec.masterKey ?? SIMULATOR_MASTER_KEY_HEX, "hex"),
        ledgerPath: spec.ledgerPath,
      });
  }
}

/** The simulated hardware of one kiosk and the control socket that drives it. */
export class SimServer {
  private readonly slots: Slot[];
  readonly rpc: RpcServer;

  constructor(
    scenario: Scenario,
    private readonly log: Logger,
  ) {
    this.slots = scenario.slots.map((s, index) => {
      const link = new ViccLink(s.host, s.port);
      const slot: Slot = {
        index,
        port: s.port,
        link,
        card: s.card === undefined ? undefined : makeCard(s.card),
        spec: s.card,
        apdus: 0,
        plugged: true,
        insertedAtUnplug: false,
        recorder: undefined,
      };
      link.on("apdu", () => slot.apdus++);
      recordSlot(slot);
      // A torn card goes silent the way a pulled one does: the reader loses it mid-APDU.
      if (slot.card instanceof PurseCard || slot.card instanceof DesfireCard) {
        slot.card.on("tear", (event) => {
          log.info({ slot: index, ...event }, "card torn");
          link.remove();
        });
      }
      link.on("closed", () => log.info({ slot: index }, "card connection closed"));
      return slot;
    });
    this.rpc = new RpcServer({
      log,
      maxLineBytes: 1 << 20,
      maxConnections: 32,
      maxInFlightPerConnection: 16,
      maxBufferedBytes: 8 << 20,
    });
    this.rpc.register("sim.status", ControlMethods["sim.status"], () => ({
      slots: this.slots.map((s) => this.status(s)),
    }));
    this.rpc.register("card.insert", ControlMethods["card.insert"], async ({ slot }) => {
      const s = this.slot(slot);
      if (s.card === undefined) {
        throw new TermhostError("INVALID_PARAMS", `slot ${slot} has no card in the scenario`);
      }
      assertPlugged(s);
      if (!s.link.connected) await s.link.insert(s.card);
      this.log.info({ slot }, "card inserted");
      return this.status(s);
    });
    this.rpc.register("card.tear", ControlMethods["card.tear"], ({ slot, fault }) => {
      const s = this.slot(slot);
      if (s.card instanceof PurseCard) {
        const parsed = PurseFaultSpec.safeParse(fault);
        if (!parsed.success)
          throw new TermhostError("INVALID_PARAMS", `not a purse card fault: ${JSON.stringify(fault)}`);
        s.card.armFault(parsed.data);
      } else if (s.card instanceof DesfireCard) {
        const parsed = DesfireFaultSpec.safeParse(fault);
        if (!parsed.success)
          throw new TermhostError("INVALID_PARAMS", `not a DESFire card fault: ${JSON.stringify(fault)}`);
        s.card.armFault(parsed.data);
      } else {
        throw new TermhostError("INVALID_PARAMS", `slot ${slot} holds no purse or DESFire card`);
      }
      this.log.info({ slot, fault }, "fault armed");
      return this.status(s);
    });
    this.rpc.register("card.stall", ControlMethods["card.stall"], ({ slot, stalled }) => {
      const s = this.slot(slot);
      s.link.setStalled(stalled);
      this.log.info({ slot, stalled }, "card stall");
      return this.status(s);
    });
    this.rpc.register("card.remove", ControlMethods["card.remove"], ({ slot }) => {
      const s = this.slot(slot);
      s.link.remove();
      this.log.info({ slot }, "card removed");
      return this.status(s);
    });
    registerSlotControls(this.rpc, {
      slot: (i) => this.slot(i),
      all: () => this.slots,
      status: (s) => this.status(s as Slot),
      log,
    });
  }

  async start(initial: Scenario): Promise<void> {
    await Promise.all(
      initial.slots.map(async (spec, i) => {
        const s = this.slot(i);
        if (spec.inserted && s.card !== undefined) await s.link.insert(s.card);
      }),
    );
  }

  stop(): void {
    for (const s of this.slots) s.link.remove();
  }

  private slot(index: number): Slot {
    const s = this.slots[index];
    if (s === undefined) {
      throw new TermhostError("INVALID_PARAMS", `no slot ${index}; this rig has ${this.slots.length}`);
    }
    return s;
  }

  private status(s: Slot): z.infer<typeof SlotStatus> {
    return {
      slot: s.index,
      port: s.port,
      card: s.spec?.kind ?? null,
      inserted: s.link.connected,
      plugged: s.plugged,
      powered:
        s.card instanceof SelectCard ||
        s.card instanceof PurseCard ||
        s.card instanceof SamCard ||
        s.card instanceof DesfireCard
          ? s.card.powered
          : false,
      apdus: s.apdus,
      held: s.link.held,
    };
  }
}
