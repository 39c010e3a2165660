import { type MeterSimulator, startMeterSimulator } from "../../simulators/meter/meter-simulator.js";
import { freshMeterState, saveMeterState, TEST_VENDOR_KEY } from "../../simulators/meter/state-file.js";
import type { ProcessGroup } from "../../simulators/rig/processes.js";
import { startPtyPair } from "../../simulators/rig/socat.js";

export const SIMULATED_METER = "termhost simulated meter";

export interface SimulatedMeter {
  sim: MeterSimulator;
  /** The `postage` section of the daemon's configuration for this meter, with fast link timings. */
  postageConfig: Record<string, unknown>;
}

/** The meter simulator on one end of a socat pty pair, funded with `funds`; the daemon opens the other end. */
export async function startSimulatedMeter(
  group: ProcessGroup,
  dir: string,
  funds: number,
  serial = "PM0042",
): Promise<SimulatedMeter> {
  const pty = await startPtyPair(group, dir, "meter");
  const stateFile = `${dir}/meter.json`;
  const registers = { ...freshMeterState().registers, descending: funds, controlTotal: funds, serial };
  saveMeterState(stateFile, freshMeterState({ serial, registers }));
  const sim = await startMeterSimulator({ port: pty.devicePath, stateFile, baudRate: 115_200 });
  return {
    sim,
    postageConfig: {
      meters: [
        { profile: SIMULATED_METER, port: pty.hostPath, baudRate: 115_200, vendorKey: TEST_VENDOR_KEY },
      ],
      ackMarginMs: 30,
      responseMarginMs: 100,
      backoffInitialMs: 10,
    },
  };
}
