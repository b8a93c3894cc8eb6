// Public surface of @radixserve/kv-transfer: the KV transports (grpc inline, tcp, shm, shm-direct,
// rdma shim), `auto`, the registry keyed by --kv-transport, checksums and transfer metrics.
export * from "./auto-transport.js";
export * from "./checksum.js";
export * from "./grpc-transport.js";
export * from "./host-id.js";
export * from "./kv-transport.js";
export * from "./rdma-transport.js";
export * from "./region-pool.js";
export * from "./registry.js";
export * from "./shm-direct.js";
export * from "./shm-transport.js";
export * from "./tcp-transport.js";
export * from "./transfer-metrics.js";
