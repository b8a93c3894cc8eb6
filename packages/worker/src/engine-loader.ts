import type { Engine, EngineOptions } from "@radixserve/engine-native";
import { loadEngine as loadNativeEngine } from "@radixserve/engine-native";

/** Loads the native engine (one seam, so the worker's start-up reads in one place). */
export async function loadEngine(opts: EngineOptions): Promise<Engine> {
  return await loadNativeEngine(opts);
}
