import { createKvTransport, type KvTransport } from "@radixserve/core";
import type { WorkerConfig } from "../config.js";

/**
 * Resolves --kv-transport at start-up (failing there, with a clear message, for rdma or a
 * transport this build lacks). `auto` offers shm (P falls back to inline gRPC bytes when it is on
 * another host) unless --disable-shm-transport, else grpc.
 */
export async function chooseKvTransport(
  config: Pick<WorkerConfig, "kvTransport" | "disableShmTransport" | "host" | "kvAdvertiseHost">,
): Promise<KvTransport> {
  if (config.kvTransport === "auto") {
    if (config.disableShmTransport) return createKvTransport("grpc");
    try {
      return await createKvTransport("shm");
    } catch {
      return createKvTransport("grpc");
    }
  }
  return createKvTransport(config.kvTransport, {
    host: config.host,
    ...(config.kvAdvertiseHost ? { advertiseHost: config.kvAdvertiseHost } : {}),
  });
}
