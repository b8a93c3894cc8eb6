export * from "./worker-cluster-agent.js";
export * from "./worker-discovery.js";
export * from "./worker-record.js";
export * from "./worker-registrar.js";
