// The router's per-worker index of cached KV blocks and the plumbing that feeds it from KV events.
export {
  type FollowerStats,
  KvEventFollower,
  type KvEventFollowerOptions,
  type ResyncReason,
} from "./kv-event-follower.js";
export { type IndexedBlock, KvIndex, type KvIndexOptions, type WorkerIndexStats } from "./kv-index.js";
export { KvSync, type KvSyncOptions } from "./kv-sync.js";
