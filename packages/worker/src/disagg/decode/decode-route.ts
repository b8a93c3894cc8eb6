/**
 * The decode worker's Generate route (`--disagg-mode decode`): a request with a prefill_address
 * is prefilled by that prefill worker and its KV transferred here (decode-transfer.ts), unless
 * conditional disaggregation keeps it local: when the prompt part this worker does not already
 * cache is shorter than --disagg-prefill-threshold tokens, moving it costs more than computing it,
 * so the scheduler prefills it here like a unified worker would (counted in
 * radixserve_local_prefills_total). Requests without a prefill_address are always local.
 */
import { RadixServeError } from "@radixserve/core";
import type { GenerateRoute } from "../../grpc-service.js";
import { validateRequest } from "../../scheduler/index.js";
import { startTransfer, type TransferDeps } from "./decode-transfer.js";

export function createDecodeRoute(
  deps: TransferDeps,
  threshold: number,
  local: GenerateRoute,
): GenerateRoute {
  const { scheduler, reserver, metrics } = deps;
  return (params, req, sink, trace) => {
    if (!req.prefillAddress) return local(params, req, sink, trace);
    const bs = scheduler.config.blockSize;
    const hashes = reserver.hashes(params.inputIds);
    const uncached = params.inputIds.length - reserver.cachedBlocks(hashes) * bs;
    if (uncached < threshold) {
      metrics.localPrefills.inc();
      return local(params, req, sink, trace);
    }
    // Reject what the scheduler would reject before any block is reserved or byte moved.
    const invalid = scheduler.isDraining
      ? new RadixServeError("draining", "worker is draining: it admits no new requests")
      : validateRequest(params, scheduler.config);
    if (invalid) {
      sink({ type: "error", error: invalid });
      return { cancel: () => {} };
    }
    const t = startTransfer(deps, params, req, hashes, sink, trace);
    const handle: ReturnType<GenerateRoute> = {
      cancel(cause) {
        if (deps.live.has(params.id)) {
          t.cancel();
          if (cause.kind === "deadline")
            sink({
              type: "error",
              error: new RadixServeError(
                "deadline_exceeded",
                `request ${params.id} passed its deadline during the KV transfer`,
              ),
            });
          else if (cause.kind === "error") sink({ type: "error", error: cause.error });
          else if (cause.kind === "explicit")
            sink({
              type: "finished",
              reason: "abort",
              usage: { promptTokens: params.inputIds.length, completionTokens: 0, cachedTokens: 0 },
              matchedStopTokenId: -1,
            });
        } else scheduler.abort(params.id, cause);
      },
    };
    // An Abort RPC during the transfer ends the request as finished(abort), like the scheduler does.
    if (deps.live.has(params.id))
      deps.live.set(params.id, { cancel: () => handle.cancel({ kind: "explicit" }) });
    return handle;
  };
}
