/**
 * The V8 flags and environment termhostd runs with, wherever it is started from: its own `#!`
 * line (as installed and under systemd) carries them, and every launcher that runs it through
 * `node` passes them.
 *
 * `--max-semi-space-size=2`: V8 grows the young generation to 16 MB per semi-space under a high
 * allocation rate (tens of thousands of API requests a second), and keeps it; a kiosk's memory is
 * better spent elsewhere. At 2 MB the daemon's RSS stays about 15 MB lower under the API benchmark's
 * load at the same latency (docs/performance.md).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];

/**
 * `glibc.malloc.mmap_threshold`: glibc raises its threshold for serving a block from mmap to the
 * largest block freed so far (up to 32 MB), and memory freed below the threshold stays with the
 * process. A compaction frees a snapshot's bytes (tens of MB at the default caps), after which the
 * daemon's RSS held some 60 to 90 MB it no longer used. A fixed threshold keeps large blocks on
 * mmap, returned when freed.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=131072",
};
