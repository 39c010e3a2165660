import { readFileSync } from "node:fs";
import { TermhostError } from "../errors/errors.js";

/**
 * The gid of a group given by name or number. Names are looked up in /etc/group (files only: the
 * daemon's sockets are for local system groups, which systemd-sysusers and packages create there).
 */
export function resolveGroup(group: string | number, groupFile = "/etc/group"): number {
  if (typeof group === "number") return group;
  let text: string;
  try {
    text = readFileSync(groupFile, "utf8");
  } catch (e) {
    throw new TermhostError("CONFIG_INVALID", `cannot read ${groupFile} to find group '${group}'`, {
      cause: e,
      hint: "give the group as a number (gid) instead",
    });
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid);
  }
  throw new TermhostError("CONFIG_INVALID", `no group named '${group}' in ${groupFile}`, {
    hint: "create it (systemd-sysusers, groupadd) or fix api.group / admin.group in the configuration",
    context: { group },
  });
}
