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
  // Set it to tell processes apart that share a kernel but must not share memory (containers with
  // private /proc or /dev/shm), or to try the cross-host paths on one machine (the tests do).
  const forced = process.env["RADIXSERVE_HOST_ID"];
  if (forced) {
    cached = forced;
    return cached;
  }
  let boot = "";
  try {
    boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    boot = "no-boot-id";
  }
  cached = `${hostname()}/${boot}`;
  return cached;
}
