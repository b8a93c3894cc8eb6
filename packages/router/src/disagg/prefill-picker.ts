/**
 * Prefill/decode pairing on the router: the worker pool's pick
 * chooses the decode worker D (load: in-flight + queued, free KV blocks), and this picks the
 * prefill worker P that D will pull the prompt's KV from. Both come from the same pool: each
 * worker reports its role (GetModelInfo.disagg_mode).
 *
 * Algorithm: among healthy prefill workers serving the model and not excluded (the ones that
 * already failed this request), the one with the fewest requests this router has in flight on it
 * plus its queued requests (its last GetLoad); ties: more free KV blocks, then the address. With
 * no prefill worker in the pool the request is not disaggregated (D, or a unified worker, prefills
 * it). Every pick returns a release() that must run on every exit path (idempotent).
 */
import { RadixServeError } from "@radixserve/core";
import { promptHashes } from "../policies/route-selector.js";
import type { PickRoute, WorkerPool } from "../workers/worker-pool.js";

export interface PrefillLease {
  readonly address: string;
  release(): void;
}

export class PrefillPicker {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly pool: WorkerPool) {}

  /** True when the pool has at least one prefill worker for the model (healthy or not). */
  disaggregated(modelId: string): boolean {
    return this.pool.snapshot().some((w) => w.model?.disaggMode === "prefill" && w.model.modelId === modelId);
  }

  /** The least loaded healthy prefill worker not in `exclude`, or null when none is left. */
  pick(modelId: string, exclude: ReadonlySet<string>, route?: PickRoute): PrefillLease | null {
    // --prefill-policy: the routing policy picks among the eligible prefill workers.
    const selector = this.pool.prefillSelector;
    if (selector && route) {
      const candidates = this.pool
        .snapshot()
        .filter(
          (w) =>
            w.healthy &&
            w.model?.disaggMode === "prefill" &&
            w.model.modelId === modelId &&
            !exclude.has(w.address),
        );
      const model = candidates[0]?.model;
      if (!model) return null;
      const pick = selector.select(
        { key: route.key, hashes: promptHashes(model, route.inputIds) },
        candidates.map((w) => ({
          id: w.address,
          inFlight: this.inFlight.get(w.address) ?? 0,
          inFlightBlocks: 0,
          queued: w.load?.queuedRequests ?? 0,
          kvBlocksFree: w.load?.kvBlocksFree ?? 0,
          kvBlocksTotal: w.load?.kvBlocksTotal ?? 0,
        })),
      );
      return this.lease(pick.worker.id);
    }
    let best: { address: string; score: number; free: number } | null = null;
    for (const w of this.pool.snapshot()) {
      if (!w.healthy || w.model?.disaggMode !== "prefill" || w.model.modelId !== modelId) continue;
      if (exclude.has(w.address)) continue;
      const score = (this.inFlight.get(w.address) ?? 0) + (w.load?.queuedRequests ?? 0);
      const free = w.load?.kvBlocksFree ?? 0;
      if (
        !best ||
        score < best.score ||
        (score === best.score && (free > best.free || (free === best.free && w.address < best.address)))
      )
        best = { address: w.address, score, free };
    }
    if (!best) return null;
    return this.lease(best.address);
  }

  /** Counts a request on `address` now; the lease's release() uncounts it exactly once. */
  private lease(address: string): PrefillLease {
    this.inFlight.set(address, (this.inFlight.get(address) ?? 0) + 1);
    let released = false;
    return {
      address,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight.set(address, (this.inFlight.get(address) ?? 1) - 1);
      },
    };
  }
}

const pickers = new WeakMap<WorkerPool, PrefillPicker>();

/** The one picker of a pool (its in-flight counts must be shared by every request). */
export function prefillPickerFor(pool: WorkerPool): PrefillPicker {
  let p = pickers.get(pool);
  if (!p) {
    p = new PrefillPicker(pool);
    pickers.set(pool, p);
  }
  return p;
}

/**
 * Leases the decode worker (`leaseDecode`: the pool's own pick) and, when the pool has prefill
 * workers for the model, a prefill worker not in `exclude`. Throws `no_worker` when a
 * disaggregated pool has no prefill worker left; nothing stays leased when it throws.
 */
export function leasePair<L extends { release(): void }>(
  pool: WorkerPool,
  modelId: string,
  exclude: ReadonlySet<string>,
  leaseDecode: () => L,
  route?: PickRoute,
): { held: L; prefill: PrefillLease | null } {
  const picker = prefillPickerFor(pool);
  let prefill: PrefillLease | null = null;
  if (picker.disaggregated(modelId)) {
    prefill = picker.pick(modelId, exclude, route);
    if (!prefill)
      throw new RadixServeError(
        "no_worker",
        exclude.size > 0
          ? `No other healthy prefill worker to retry on (${exclude.size} failed the KV transfer).`
          : "No healthy prefill worker can take the request.",
      );
  }
  try {
    return { held: leaseDecode(), prefill };
  } catch (err) {
    prefill?.release();
    throw err;
  }
}
