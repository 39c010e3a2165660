import type { SystemStatusResult } from "../api/schemas/index.js";

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const parts: string[] = [];
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) parts.push(`${d}d`);
  if (h > 0) parts.push(`${h}h`);
  if (m > 0) parts.push(`${m}m`);
  parts.push(`${s % 60}s`);
  return parts.join("");
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

export function formatStatus(s: SystemStatusResult): string {
  const head = `termhostd ${s.version}  pid ${s.pid}  up ${formatDuration(s.uptimeMs)}  PC/SC ${s.pcsc.state}`;
  const lines = [head];
  if (s.pcsc.error !== undefined) lines.push(`  PC/SC: ${s.pcsc.error}`);
  lines.push("");
  if (s.readers.length === 0) {
    lines.push("no readers");
  } else {
    lines.push(
      table(
        ["READER", "CARD", "PROFILE", "ATR"],
        s.readers.map((r) => [r.name, r.card, r.cardProfile ?? "-", r.atr ?? "-"]),
      ),
    );
  }
  return lines.join("\n");
}
