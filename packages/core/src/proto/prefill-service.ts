/**
 * The PrefillService side of the worker contract (protos/radixserve/worker/v1/worker.proto): the
 * run-time service definition for the prefill worker's server, and the decode worker's client.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { type ClusterAuth, clusterChannelCredentials } from "../auth/cluster-tls.js";
import { clusterAuthClientOptions } from "../auth/grpc-auth.js";
import type {
  PrefillServiceClient,
  PrefillServiceDefinition,
} from "./generated/radixserve/worker/v1/PrefillService.js";
import type { ProtoGrpcType } from "./generated/worker.js";
import { findProtoDir, PROTO_LOADER_OPTIONS, WORKER_PROTO_FILE } from "./load.js";

export type { ChunkAck } from "./generated/radixserve/worker/v1/ChunkAck.js";
export type { KvChunk, KvChunk__Output } from "./generated/radixserve/worker/v1/KvChunk.js";
export type {
  KvTransferOffer,
  KvTransferOffer__Output,
} from "./generated/radixserve/worker/v1/KvTransferOffer.js";
export type {
  PrefillClientMessage,
  PrefillClientMessage__Output,
} from "./generated/radixserve/worker/v1/PrefillClientMessage.js";
export type {
  PrefillDone,
  PrefillDone__Output,
} from "./generated/radixserve/worker/v1/PrefillDone.js";
export type {
  PrefillServerMessage,
  PrefillServerMessage__Output,
} from "./generated/radixserve/worker/v1/PrefillServerMessage.js";
export type {
  PrefillServiceClient,
  PrefillServiceDefinition,
  PrefillServiceHandlers,
} from "./generated/radixserve/worker/v1/PrefillService.js";
export type {
  PrefillStart,
  PrefillStart__Output,
} from "./generated/radixserve/worker/v1/PrefillStart.js";

type PrefillClientCtor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
) => PrefillServiceClient;

let cached: { service: PrefillServiceDefinition; Client: PrefillClientCtor } | undefined;

export function loadPrefillService(): { service: PrefillServiceDefinition; Client: PrefillClientCtor } {
  if (cached) return cached;
  const def = protoLoader.loadSync(WORKER_PROTO_FILE, {
    ...PROTO_LOADER_OPTIONS,
    includeDirs: [findProtoDir()],
  });
  const proto = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  const ctor = proto.radixserve.worker.v1.PrefillService;
  cached = { service: ctor.service, Client: ctor as unknown as PrefillClientCtor };
  return cached;
}

/** Largest KvChunk a decode worker accepts (a chunk is at most --kv-chunk-bytes plus framing). */
export const MAX_KV_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * The decode worker's channel to one prefill worker. D receives the KV bytes as the server's
 * stream messages, so D's receive window is what limits `grpc` throughput: grpc-js keeps HTTP/2's
 * 64 KiB default unless the client sets `grpc-node.flow_control_window` (measured: ~0.2-0.5 GB/s with the default, ~0.2-0.8 with it). `auth`: mutual TLS and/or
 * the cluster token on every call (auth/).
 */
export function createPrefillClient(
  address: string,
  flowControlWindow = 16 * 1024 * 1024,
  auth?: ClusterAuth,
): PrefillServiceClient {
  const { Client } = loadPrefillService();
  return new Client(address, clusterChannelCredentials(auth), {
    ...clusterAuthClientOptions(auth?.secret),
    "grpc.max_receive_message_length": MAX_KV_MESSAGE_BYTES,
    "grpc.max_send_message_length": MAX_KV_MESSAGE_BYTES,
    "grpc-node.flow_control_window": flowControlWindow,
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
  });
}
