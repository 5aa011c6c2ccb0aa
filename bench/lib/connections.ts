import { readdirSync, readFileSync, readlinkSync } from "node:fs";

const ESTABLISHED = "01";

/**
 * TCP connections a process holds to `remotePort` on loopback, read from
 * /proc: its socket inodes matched against the kernel's connection tables.
 */
export function connectionsTo(pid: number, remotePort: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed while we looked
    }
  }
  let count = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, , remote, state, , , , , , inode] = fields;
      if (!remote || state !== ESTABLISHED || !inode || !inodes.has(inode)) continue;
      if (Number.parseInt(remote.split(":")[1] ?? "", 16) === remotePort) count++;
    }
  }
  return count;
}
