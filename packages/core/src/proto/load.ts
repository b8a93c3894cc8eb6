/**
 * Loads the worker gRPC contract (protos/radixserve/worker/v1/worker.proto) at run time.
 *
 * The .proto file at the repository root is the one source of truth; the TypeScript types in
 * ./generated/ are generated from it by scripts/gen-proto-types.mjs with the same options as
 * {@link PROTO_LOADER_OPTIONS}, so the objects this loader produces have exactly those shapes:
 * camelCase field names, 64-bit integers as decimal strings, enums as their names, defaults filled
 * in, and a virtual field naming the set member of every oneof (e.g. `event: "token"`).
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type ClusterAuth, clusterChannelCredentials } from "../auth/cluster-tls.js";
import { clusterAuthClientOptions } from "../auth/grpc-auth.js";
import type {
  WorkerServiceClient,
  WorkerServiceDefinition,
} from "./generated/radixserve/worker/v1/WorkerService.js";
import type { ProtoGrpcType } from "./generated/worker.js";

/** Options shared by the run-time loader and the type generator (keep both in sync). */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export const WORKER_PROTO_FILE = "radixserve/worker/v1/worker.proto";

/**
 * Finds the `protos/` directory by walking up from this module (src/ under tsx, dist/ when built,
 * or node_modules/@radixserve/core/dist when installed in the workspace). RADIXSERVE_PROTO_DIR
 * overrides the search, for deployments that ship the protos elsewhere.
 */
export function findProtoDir(): string {
  const override = process.env["RADIXSERVE_PROTO_DIR"];
  if (override) {
    if (!existsSync(join(override, WORKER_PROTO_FILE)))
      throw new Error(`RADIXSERVE_PROTO_DIR=${override} does not contain ${WORKER_PROTO_FILE}`);
    return override;
  }
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "protos");
    if (existsSync(join(candidate, WORKER_PROTO_FILE))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(
    `cannot find protos/${WORKER_PROTO_FILE} above ${fileURLToPath(import.meta.url)}; set RADIXSERVE_PROTO_DIR`,
  );
}

export type WorkerServiceClientConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => WorkerServiceClient;

export interface WorkerServiceBundle {
  /** The service definition to pass to `grpc.Server.addService`. */
  service: WorkerServiceDefinition;
  /** Typed client constructor: `new Client("127.0.0.1:50051", grpc.credentials.createInsecure())`. */
  Client: WorkerServiceClientConstructor;
  /** The whole loaded package (message and enum definitions), for the rare caller that needs it. */
  proto: ProtoGrpcType;
}

let cached: WorkerServiceBundle | undefined;

/** Loads (once per process) and returns the WorkerService definition and a typed client constructor. */
export function loadWorkerService(): WorkerServiceBundle {
  if (cached) return cached;
  const packageDefinition = protoLoader.loadSync(WORKER_PROTO_FILE, {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [findProtoDir()],
  });
  const proto = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;
  const ctor = proto.radixserve.worker.v1.WorkerService;
  cached = { service: ctor.service, Client: ctor as unknown as WorkerServiceClientConstructor, proto };
  return cached;
}

/**
 * A client for cluster-internal traffic: plaintext gRPC, or mutual TLS with `auth.tls`; with
 * `auth.secret` every call carries the cluster token that workers started with the same secret
 * require (auth/grpc-auth.ts).
 */
export function createWorkerClient(
  address: string,
  options?: grpc.ChannelOptions,
  auth?: ClusterAuth,
): WorkerServiceClient {
  const { Client } = loadWorkerService();
  return new Client(address, clusterChannelCredentials(auth), {
    ...options,
    ...clusterAuthClientOptions(auth?.secret),
  });
}
