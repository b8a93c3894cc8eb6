export * from "./cluster-secret.js";
export * from "./cluster-tls.js";
export * from "./grpc-auth.js";
