export * from "./cluster-secret.js";
export * from "./grpc-auth.js";
