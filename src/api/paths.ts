/** Where the daemon's sockets live unless configured: /run/termhost as root, the user's runtime dir otherwise. */
export function defaultRuntimeDir(): string {
  if (process.getuid?.() === 0) return "/run/termhost";
  const xdg = process.env.XDG_RUNTIME_DIR;
  return xdg === undefined ? `/tmp/termhost-${process.getuid?.() ?? "user"}` : `${xdg}/termhost`;
}

export function defaultApiSocket(): string {
  return process.env.TERMHOST_SOCKET ?? `${defaultRuntimeDir()}/api.sock`;
}

export function defaultAdminSocket(): string {
  return process.env.TERMHOST_ADMIN_SOCKET ?? `${defaultRuntimeDir()}/admin.sock`;
}
