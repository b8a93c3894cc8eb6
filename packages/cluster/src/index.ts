// Public surface of @radixserve/cluster: Redis discovery (worker records, registrar, watcher) and
// NATS KV events and load reports (publisher, subscriber, link), plus the worker-side agent.
export * from "./discovery/index.js";
export * from "./events/index.js";
