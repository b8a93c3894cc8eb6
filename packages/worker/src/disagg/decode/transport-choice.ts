import {
  AutoKvTransport,
  createKvTransport,
  type KvTransport,
  ShmKvTransport,
} from "@radixserve/kv-transfer";
import type { WorkerConfig } from "../../config.js";

/**
 * Resolves --kv-transport at start-up (failing there, with a clear message, for rdma or a
 * transport this build lacks). `auto` offers every medium that works here at once, shm (unless
 * --disable-shm-transport) and tcp, and each prefill worker takes the fastest it can use (shm on
 * this host, tcp from elsewhere, else inline gRPC bytes); with neither medium it is plain grpc.
 */
export async function chooseKvTransport(
  config: Pick<
    WorkerConfig,
    "kvTransport" | "disableShmTransport" | "host" | "kvAdvertiseHost" | "kvPort" | "clusterSecret"
  >,
): Promise<KvTransport> {
  return createKvTransport(config.kvTransport, {
    host: config.host,
    port: config.kvPort,
    ...(config.clusterSecret ? { authKey: config.clusterSecret.kvAuthKey } : {}),
    ...(config.kvAdvertiseHost ? { advertiseHost: config.kvAdvertiseHost } : {}),
    ...(config.disableShmTransport ? { disableShm: true } : {}),
  });
}

/** The transport's shared-memory medium, if it has one (its own, or auto's). */
export function shmMedium(transport: KvTransport | null): ShmKvTransport | null {
  if (transport instanceof ShmKvTransport) return transport;
  if (transport instanceof AutoKvTransport) return transport.shm;
  return null;
}
