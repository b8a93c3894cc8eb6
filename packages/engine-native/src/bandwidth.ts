/**
 * The memory read bandwidth of this machine, measured by the native probe: the roofline batch-1
 * decode is held against (it reads every weight byte once per token). Benchmarks measure it in the
 * same run as the throughput they compare it with.
 */
import { nativeAddon } from "./native.js";

/** Best read rate in GB/s (1e9 B/s) of a `bytes` buffer read by `threads` threads, over `reps` passes. */
export function readBandwidthGbs(bytes: number, threads: number, reps = 5): number {
  return nativeAddon().readBandwidth(bytes, threads, reps);
}
