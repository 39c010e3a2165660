/**
 * The power-loss campaign's generic workload: concurrent writers append numbered records (alone
 * or in appendMany groups) while compactions run. Each writer knows what it submitted and what was
 * acknowledged; the reducer checks on replay that each writer's records come back in order, whole
 * and exactly as written.
 */
import { z } from "zod";
import type { JournalFs } from "../../../src/journal/fs.js";
import { openJournal } from "../../../src/journal/index.js";
import type { Workload, WorkloadEnv } from "./power-loss-campaign.js";

const recordTypes = {
  "w.rec": z.object({
    w: z.number().int().nonnegative(),
    i: z.number().int().nonnegative(),
    /** First index and size of the appendMany group this record belongs to. */
    g: z.number().int().nonnegative(),
    of: z.number().int().positive(),
    pad: z.string(),
  }),
};

interface WriterState {
  /** Records present, and the end of the group the last of them belongs to. */
  n: number;
  groupEnd: number;
}
type State = Map<number, WriterState>;

/** Lengths vary so that frames and group writes straddle sector boundaries at many offsets. */
function pad(w: number, i: number): string {
  const len = (w * 37 + i * 101) % 700;
  return String.fromCharCode(97 + ((w + i) % 26)).repeat(len);
}

const POST_WRITER = 1000;

export function recordsWorkload(env: WorkloadEnv): Workload {
  const submitted = new Map<number, number>();
  const acked = new Map<number, number>();
  const violations: string[] = [];

  const open = (fs: JournalFs) =>
    openJournal({
      path: env.path,
      fs,
      sync: env.sync,
      compactAtBytes: env.compactAtBytes,
      types: recordTypes,
      initialState: (): State => new Map(),
      reduce: (s, r) => {
        const b = r.body;
        const cur = s.get(b.w) ?? { n: 0, groupEnd: 0 };
        if (b.i !== cur.n)
          violations.push(`writer ${b.w}: record ${b.i} came after ${cur.n} records (seq ${r.seq})`);
        if (b.pad !== pad(b.w, b.i) || b.g > b.i || b.i >= b.g + b.of) {
          violations.push(`writer ${b.w}: record ${b.i} is not what was written (seq ${r.seq})`);
        }
        s.set(b.w, { n: b.i + 1, groupEnd: b.g + b.of });
        return s;
      },
      snapshot: {
        schema: z.array(z.tuple([z.number(), z.number(), z.number()])),
        save: (s) => [...s].map(([w, x]) => [w, x.n, x.groupEnd] as [number, number, number]),
        load: (rows) => new Map(rows.map(([w, n, groupEnd]) => [w, { n, groupEnd }])),
      },
    });
  type J = Awaited<ReturnType<typeof open>>;

  const writer = async (j: J, w: number, ops: number): Promise<void> => {
    for (let k = 0; k < ops; k++) {
      const size = env.rand() < 0.7 ? 1 : 2 + Math.floor(env.rand() * 3);
      const g = submitted.get(w) ?? 0;
      const recs = Array.from({ length: size }, (_, x) => ({
        type: "w.rec" as const,
        body: { w, i: g + x, g, of: size, pad: pad(w, g + x) },
      }));
      submitted.set(w, g + size);
      if (size === 1) await j.append("w.rec", (recs[0] as (typeof recs)[number]).body);
      else await j.appendMany(recs);
      acked.set(w, g + size);
    }
  };

  return {
    async drive(fs, phase) {
      const j = await open(fs);
      const writers = Array.from({ length: env.writers }, (_, w) => writer(j, w, env.opsPerPhase));
      // An explicit compaction somewhere in the middle of the writers' work, besides the automatic ones.
      const compactor = (async () => {
        const turns = Math.floor(env.rand() * env.opsPerPhase * 2);
        for (let t = 0; t < turns; t++) await new Promise((r) => setImmediate(r));
        if (phase % 2 === 0 || env.rand() < 0.5) await j.compact();
      })();
      const settled = await Promise.allSettled([...writers, compactor]);
      await j.close();
      const failed = settled.find((s) => s.status === "rejected");
      if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
    },
    async recover(fs) {
      const j = await open(fs);
      const dropped = j.recovery.droppedTail?.reason ?? null;
      try {
        await writer(j, POST_WRITER, 4);
      } finally {
        await j.close();
      }
      return dropped;
    },
    async verify(fs) {
      violations.length = 0;
      const j = await open(fs);
      const out = [...violations];
      try {
        for (const [w, sub] of submitted) {
          const got = j.state.get(w) ?? { n: 0, groupEnd: 0 };
          const ack = acked.get(w) ?? 0;
          if (got.n < ack) out.push(`writer ${w}: ${ack} records acknowledged, only ${got.n} present`);
          if (got.n > sub) out.push(`writer ${w}: ${got.n} records present, only ${sub} submitted`);
          if (got.n !== got.groupEnd)
            out.push(`writer ${w}: a group is half there (${got.n} of ${got.groupEnd})`);
        }
        for (const w of j.state.keys()) if (!submitted.has(w)) out.push(`writer ${w}: never wrote`);
      } finally {
        await j.close();
      }
      return out;
    },
  };
}
