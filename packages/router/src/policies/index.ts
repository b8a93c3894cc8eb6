// Routing policies: the contract, the registry, and the policies themselves.
export { CacheAwarePolicy } from "./cache-aware.js";
export { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from "./circuit-breaker.js";
export { ClusterRouting, type ClusterRoutingOptions, type DynamicWorkerSet } from "./cluster-routing.js";
export type { KnobSpec, Knobs, PolicyDefinition } from "./knobs.js";
export { KvCostPolicy } from "./kv-cost.js";
export {
  leastLoaded,
  lessLoaded,
  loadOf,
  type Pick,
  type PickContext,
  type RouteReason,
  type RouteRequest,
  type RoutingPolicy,
  requestRandom,
  type WorkerView,
} from "./policy.js";
export { PowerOfTwoPolicy } from "./power-of-two.js";
export { RandomPolicy } from "./random.js";
export {
  createPolicy,
  DEFAULT_POLICY,
  describePolicies,
  type PolicyConfig,
  parsePolicySpec,
  policyNames,
} from "./registry.js";
export { RoundRobinPolicy } from "./round-robin.js";
export { promptHashes, RouteSelector, type RouteSelectorOptions } from "./route-selector.js";
export {
  type ClusterGaugeSource,
  ROUTING_METRIC,
  type RouteStage,
  RoutingMetrics,
} from "./routing-metrics.js";
