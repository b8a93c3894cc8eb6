import { readFileSync } from "node:fs";
import { hostname } from "node:os";

let cached: string | undefined;

/**
 * This machine's identity for the shm transport: two processes may share /dev/shm only when both
 * report the same value. The kernel boot id differs between machines (and containers of one pod
 * share it only when they share the host); the hostname guards against an unreadable boot id.
 */
export function hostId(): string {
  if (cached !== undefined) return cached;
  let boot = "";
  try {
    boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    boot = "no-boot-id";
  }
  cached = `${hostname()}/${boot}`;
  return cached;
}
