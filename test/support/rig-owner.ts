/**
 * A process that starts a rig, prints what it started, and waits to be killed: tests SIGKILL it
 * to prove the rig's guard cleans up after an owner that could not.
 */
import { Rig } from "../../simulators/rig/rig.js";

const rig = await Rig.start({ slots: [{ inserted: true }] });
const status = await rig.simStatus();
process.stdout.write(
  `${JSON.stringify({ pcscd: rig.pcscd.pid, sim: rig.sim.pid, netns: rig.netns ?? null, dir: rig.dir, inserted: status.slots[0]?.inserted })}\n`,
);
setInterval(() => {}, 1 << 30);
