// `.connector-watch/daemon.json`: where a workspace's running daemon listens (daemon/PROTOCOL.md §Connecting).
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";

export const DISCOVERY_FILE = join(".connector-watch", "daemon.json");

export interface DiscoveryInfo {
  url: string;
  httpUrl: string;
  port: number;
  token: string;
  pid: number;
  protocolVersion: string;
  workspace: string;
  startedAt?: number;
}

export function discoveryPath(workspace: string): string {
  return join(workspace, DISCOVERY_FILE);
}

/** The discovery record, whatever its state; undefined when missing or unreadable. */
export async function readDiscovery(workspace: string): Promise<DiscoveryInfo | undefined> {
  let text: string;
  try {
    text = await readFile(discoveryPath(workspace), "utf8");
  } catch {
    return undefined;
  }
  try {
    const info = JSON.parse(text) as Partial<DiscoveryInfo>;
    if (typeof info.url !== "string" || typeof info.token !== "string" || typeof info.pid !== "number") {
      return undefined;
    }
    return info as DiscoveryInfo;
  } catch {
    return undefined; // being rewritten (the daemon replaces it atomically, but be lenient)
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether something accepts connections on the loopback port (a daemon answers within a second). */
export function portOpen(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * The record of a daemon that is running now. A stale file counts as none: its pid is gone, or
 * (a reused pid, another user's process) nothing listens on its port — the daemon's own rule.
 */
export async function readLiveDiscovery(workspace: string): Promise<DiscoveryInfo | undefined> {
  const info = await readDiscovery(workspace);
  if (!info || !pidAlive(info.pid)) return undefined;
  return (await portOpen(info.port)) ? info : undefined;
}
