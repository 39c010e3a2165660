import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Rig } from "../../simulators/rig/rig.js";
import { TermhostClient } from "../../src/client/client.js";
import { ErrorCode } from "../../src/errors/errors.js";
import { prng } from "../../src/util/prng.js";
import { startDaemon, type TestDaemon } from "../support/daemon.js";
import { type Frame, FrameMaker } from "./fuzz-frames.js";

const SEED = Number(process.env.FUZZ_SEED ?? 0x7e57_0001);
const TOTAL_FRAMES = 100_000;
const WORKERS = 8;
const MAX_LINE = 16_384;
const STABLE_CODES = new Set<string>(Object.values(ErrorCode));

interface Tally {
  frames: number;
  connections: number;
  abrupt: number;
  oversized: number;
  answered: number;
  nullAnswers: number;
  results: number;
  byCode: Map<string, number>;
  problems: string[];
}

/**
 * One hostile connection: writes its frames pipelined in random fragments, checks each reply line,
 * and ends gracefully (sentinel answered), abruptly (mid-line), or with an oversized line.
 */
async function hostileConnection(
  path: string,
  rand: () => number,
  maker: FrameMaker,
  count: number,
  t: Tally,
): Promise<void> {
  const socket = net.connect(path);
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  t.connections++;
  const expected = new Map<string, readonly string[]>();
  const waiters: Array<() => void> = [];
  let closed = false;
  let tooLong = false;
  let rest = "";
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  const onReply = (line: string): void => {
    let msg: {
      jsonrpc?: unknown;
      id?: unknown;
      result?: unknown;
      error?: { code?: unknown; data?: { code?: unknown } };
    };
    try {
      msg = JSON.parse(line);
    } catch {
      t.problems.push(`reply is not JSON: ${line.slice(0, 120)}`);
      return;
    }
    t.answered++;
    if (msg.jsonrpc !== "2.0") t.problems.push(`reply without jsonrpc 2.0: ${line.slice(0, 120)}`);
    let code = "RESULT";
    if (msg.error !== undefined) {
      code = String(msg.error.data?.code);
      if (typeof msg.error.code !== "number" || !STABLE_CODES.has(code) || code === "INTERNAL") {
        t.problems.push(`unstable error: ${line.slice(0, 200)}`);
      }
      if (code === "LINE_TOO_LONG") tooLong = true;
    } else t.results++;
    t.byCode.set(code, (t.byCode.get(code) ?? 0) + 1);
    if (msg.id === null) {
      t.nullAnswers++;
      return;
    }
    const id = String(msg.id);
    const codes = expected.get(id);
    if (codes === undefined)
      t.problems.push(`reply to an id never sent or answered twice: ${line.slice(0, 200)}`);
    else if (!codes.includes(code)) t.problems.push(`${id}: got ${code}, expected one of ${codes.join("|")}`);
    expected.delete(id);
  };
  socket.on("data", (d: Buffer) => {
    const parts = (rest + d.toString("utf8")).split("\n");
    rest = parts.pop() ?? "";
    for (const p of parts) onReply(p);
    wake();
  });
  socket.on("close", () => {
    closed = true;
    wake();
  });
  const until = async (what: string, cond: () => boolean): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!cond()) {
      if (closed && !cond()) throw new Error(`connection closed while waiting for ${what}`);
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (${expected.size} unanswered)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) frames.push(maker.next());
  for (const f of frames) if (f.id !== undefined && f.codes !== undefined) expected.set(f.id, f.codes);
  const payload = Buffer.concat(
    frames.map((f) => (typeof f.text === "string" ? Buffer.from(f.text) : f.text)),
  );
  // Random fragment sizes, so lines arrive split at every possible place.
  for (let off = 0; off < payload.length; ) {
    const len = 1 + Math.floor(rand() * (rand() < 0.3 ? 64 : 32_768));
    if (!socket.write(payload.subarray(off, off + len))) await new Promise((r) => socket.once("drain", r));
    off += len;
  }
  t.frames += count;

  const ending = rand();
  if (ending < 0.15) {
    socket.write('{"jsonrpc":"2.0","id":"cut","method":"sys');
    socket.destroy();
    t.abrupt++;
    t.frames++;
    return;
  }
  await until("every answer", () => expected.size === 0);
  if (ending < 0.3) {
    socket.write(maker.oversized(MAX_LINE).text);
    t.frames++;
    t.oversized++;
    await until("LINE_TOO_LONG and close", () => tooLong && closed);
    return;
  }
  expected.set("sentinel", ["RESULT"]);
  socket.write('{"jsonrpc":"2.0","id":"sentinel","method":"system.status"}\n');
  t.frames++;
  await until("the sentinel's answer", () => expected.size === 0);
  socket.end();
}

describe("fuzzing the API socket", () => {
  let rig: Rig;
  let daemon: TestDaemon;

  beforeAll(async () => {
    rig = await Rig.start();
    daemon = await startDaemon(rig, {
      logLevel: "warn",
      api: {
        socketPath: `${rig.dir}/api.sock`,
        maxLineBytes: MAX_LINE,
        maxConnections: 64,
        requestsPerSecond: 1_000_000,
        requestBurst: 1_000_000,
      },
    });
  });
  afterAll(async () => {
    await daemon?.stop();
    await rig?.stop();
  });

  it(`survives ${TOTAL_FRAMES} hostile frames while a well-behaved client keeps being served (seed ${SEED})`, async () => {
    const t: Tally = {
      frames: 0,
      connections: 0,
      abrupt: 0,
      oversized: 0,
      answered: 0,
      nullAnswers: 0,
      results: 0,
      byCode: new Map(),
      problems: [],
    };
    const good = await TermhostClient.connect({
      socketPath: daemon.socketPath,
      timeoutMs: 5000,
      reconnect: false,
    });
    let fuzzing = true;
    const served: number[] = [];
    const goodLoop = (async () => {
      let worst = 0;
      while (fuzzing) {
        const t0 = performance.now();
        const s = await good.status();
        expect(s.pid).toBe(daemon.process.pid);
        const ms = performance.now() - t0;
        worst = Math.max(worst, ms);
        served.push(Date.now());
        await new Promise((r) => setTimeout(r, 5));
      }
      return worst;
    })();

    const started = Date.now();
    await Promise.all(
      Array.from({ length: WORKERS }, async (_, w) => {
        const rand = prng(SEED + w);
        const maker = new FrameMaker(rand, `w${w}`);
        const share = TOTAL_FRAMES / WORKERS;
        let sent = 0;
        while (sent < share) {
          const count = Math.min(share - sent, 200 + Math.floor(rand() * 2800));
          await hostileConnection(daemon.socketPath, rand, maker, count, t);
          sent += count;
        }
      }),
    );
    fuzzing = false;
    const worst = await goodLoop;
    const elapsed = Date.now() - started;

    const gaps = served.slice(1).map((x, i) => x - (served[i] as number));
    console.log(
      JSON.stringify({
        seed: SEED,
        frames: t.frames,
        connections: t.connections,
        abrupt: t.abrupt,
        oversized: t.oversized,
        answered: t.answered,
        nullAnswers: t.nullAnswers,
        byCode: Object.fromEntries(t.byCode),
        elapsedMs: elapsed,
        goodClient: { calls: served.length, worstMs: Math.round(worst), longestGapMs: Math.max(0, ...gaps) },
      }),
    );
    expect(t.problems.slice(0, 20)).toEqual([]);
    expect(t.frames).toBeGreaterThanOrEqual(TOTAL_FRAMES);
    expect(t.abrupt).toBeGreaterThan(0);
    expect(t.oversized).toBeGreaterThan(0);
    for (const code of [
      "PARSE_ERROR",
      "INVALID_REQUEST",
      "METHOD_NOT_FOUND",
      "INVALID_PARAMS",
      "UNAUTHORIZED",
      "LINE_TOO_LONG",
    ]) {
      expect(t.byCode.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    // The well-behaved client was answered all along, never kept waiting long.
    expect(served.length).toBeGreaterThan(elapsed / 200);
    expect(Math.max(0, ...gaps)).toBeLessThan(2000);
    expect(daemon.process.child.exitCode).toBeNull();
    expect((await good.status()).pid).toBe(daemon.process.pid);
    good.close();
  }, 120_000);
});
