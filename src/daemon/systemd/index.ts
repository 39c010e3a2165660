export {
  LISTEN_FDS_START,
  type ListenFd,
  type ListenFds,
  parseListenFds,
  takeListenFds,
} from "./listen-fds.js";
export { helperSender, Notifier, type NotifySender, parseNotifyEnv } from "./notify.js";
export { ReloadHandler, type ReloadResult } from "./reload.js";
export {
  SHUTDOWN_DEADLINE_MS,
  ShutdownCoordinator,
  type ShutdownParticipant,
  type ShutdownReport,
  type StopContext,
} from "./shutdown.js";
