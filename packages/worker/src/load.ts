/**
 * A worker's status and load as it reports them: one status type, and one builder of the load
 * figures that GetLoad answers (and the cluster agent publishes), for every mode. Free blocks
 * include the evictable cached ones: they are room the worker can make at once.
 */
/** Health's status as the worker sets it (STARTING while the engine loads, DRAINING after SIGTERM). */
export type WorkerStatus = "STATUS_SERVING" | "STATUS_DRAINING" | "STATUS_STARTING";

/** What a scheduler (unified, decode or prefill) counts; stats() of either scheduler has these. */
export interface LoadStats {
  running: number;
  queued: number;
  kvBlocksTotal: number;
  kvBlocksFree: number;
  kvBlocksEvictable: number;
  kvBlocksCached?: number;
  cacheHitRate?: number;
}

/** The fields of a GetLoad response, as numbers. */
export interface WorkerLoad {
  runningRequests: number;
  queuedRequests: number;
  kvBlocksFree: number;
  kvBlocksTotal: number;
  kvBlocksCached: number;
  cacheHitRate: number;
  generationTokensPerS: number;
}

/** The GetLoad response for these counts and the recent generation rate. */
export function loadResponse(s: LoadStats, generationTokensPerS: number): WorkerLoad {
  return {
    runningRequests: s.running,
    queuedRequests: s.queued,
    kvBlocksFree: s.kvBlocksFree + s.kvBlocksEvictable,
    kvBlocksTotal: s.kvBlocksTotal,
    kvBlocksCached: s.kvBlocksCached ?? 0,
    cacheHitRate: s.cacheHitRate ?? 0,
    generationTokensPerS,
  };
}
