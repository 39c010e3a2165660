/** /var/lib/termhost as root (the service's StateDirectory), the user's state folder otherwise. */
export function defaultStateDir(): string {
  if (process.getuid?.() === 0) return "/var/lib/termhost";
  const xdg = process.env.XDG_STATE_HOME;
  return xdg === undefined ? `${process.env.HOME ?? "/tmp"}/.local/state/termhost` : `${xdg}/termhost`;
}
