/**
 * libuv's threadpool, as this process got it. libuv reads UV_THREADPOOL_SIZE once, when the pool
 * first starts; for an ES module entry that is while Node loads the entry file (it reads it through
 * the pool), so setting the variable from inside the program is always too late: it has to be in
 * the environment the process starts with (the service unit sets it).
 */

/** libuv's own default, and what a process started without UV_THREADPOOL_SIZE runs with. */
export const LIBUV_DEFAULT_THREADS = 4;
/** libuv clamps larger values to this. */
export const LIBUV_MAX_THREADS = 1024;

/**
 * Threads no device may hold: the journal's durable writes, the meters' serial reads and writes,
 * DNS lookups of the issuer host. One is the least that keeps a commit moving; two leave a commit
 * a thread while another pool task runs.
 */
export const THREADPOOL_RESERVE = 2;

/** The pool size libuv took from `env`, parsed the way libuv parses it (atoi, 0 → 1, clamped). */
export function threadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.UV_THREADPOOL_SIZE;
  if (raw === undefined) return LIBUV_DEFAULT_THREADS;
  const n = Number.parseInt(raw.trim(), 10);
  // atoi's garbage is 0; a negative value becomes a huge unsigned one, which libuv clamps.
  if (Number.isNaN(n) || n === 0) return 1;
  if (n < 0 || n > LIBUV_MAX_THREADS) return LIBUV_MAX_THREADS;
  return n;
}

/**
 * The environment a launcher of termhostd adds (the simulated kiosk, the test rigs), as the
 * service unit does: a pool big enough that PC/SC calls to several readers run side by side.
 */
export function daemonThreadpoolEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { UV_THREADPOOL_SIZE: env.UV_THREADPOOL_SIZE ?? "16" };
}
