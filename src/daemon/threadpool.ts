/**
 * How the daemon shares libuv's threadpool. Every journal commit is a pool task (a pwrite with
 * O_DSYNC, or a write then fdatasync), and so is every blocking device call: a PC/SC connect,
 * transmit or disconnect, a HID scale read (up to `scale.reportTimeoutMs`), a serial drain. A device
 * that hangs keeps its thread for as long as it hangs. So the devices get a fixed share and the
 * rest is kept free: readers through the PC/SC gate (src/pcsc/native-gate.ts), the scale and the
 * meters by holding one call each at most.
 */
import { THREADPOOL_RESERVE, threadpoolSize } from "../util/threadpool.js";
import type { Config } from "./config.js";

export interface ThreadpoolPlan {
  /** The pool this process runs with (UV_THREADPOOL_SIZE at start, else libuv's 4). */
  threads: number;
  /** Threads a meter may hold: one each, in a serial drain. */
  meters: number;
  /** Threads the HID scale may hold: one, in a read. */
  scales: number;
  /** PC/SC calls let onto the pool at once, over all readers. */
  pcscCalls: number;
  /** Threads no device can take: the journal's commits always find one of them. */
  reserve: number;
  /** Set when the pool is too small to keep THREADPOOL_RESERVE threads free. */
  shortBy: number;
}

export function planThreadpool(
  config: Pick<Config, "postage" | "scale">,
  env: NodeJS.ProcessEnv = process.env,
): ThreadpoolPlan {
  const threads = threadpoolSize(env);
  const meters = config.postage.meters.length;
  const scales = config.scale.transport.kind === "hid" ? 1 : 0;
  const pcscCalls = Math.max(1, threads - meters - scales - THREADPOOL_RESERVE);
  const reserve = Math.max(0, threads - meters - scales - pcscCalls);
  return { threads, meters, scales, pcscCalls, reserve, shortBy: Math.max(0, THREADPOOL_RESERVE - reserve) };
}

/** The pool size that keeps the full reserve with `pcscCalls` PC/SC calls: for the log's advice. */
export function threadsNeeded(plan: ThreadpoolPlan, pcscCalls = 4): number {
  return plan.meters + plan.scales + pcscCalls + THREADPOOL_RESERVE;
}
