/**
 * The V8 flags termhostd runs with, wherever it is started from: its own `#!` line (as installed
 * and under systemd) carries them, and every launcher that runs it through `node` passes them.
 *
 * `--max-semi-space-size=2`: V8 grows the young generation to 16 MB per semi-space under a high
 * allocation rate (tens of thousands of API requests a second), and keeps it; a kiosk's memory is
 * better spent elsewhere. At 2 MB the daemon's RSS stays about 15 MB lower under the API benchmark's
 * load at the same latency (docs/performance.md).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];
