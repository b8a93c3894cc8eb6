import { timingSafeEqual } from "node:crypto";

/** True when `header` is `Bearer <key>` (constant-time comparison of the key). */
export function keyMatches(header: string | undefined, key: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const given = Buffer.from(header.slice("Bearer ".length).trim());
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}
