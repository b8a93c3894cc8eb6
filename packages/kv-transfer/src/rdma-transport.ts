/**
 * `rdma`: the name exists so configurations and the registry have their final shape, but no RDMA
 * verbs code is built here. Selecting it fails at start-up with a clear message; it never
 * pretends to work.
 */
import { RadixServeError } from "@radixserve/core";
import type { KvReceiver, KvSender, KvTransport } from "./kv-transport.js";

const NOT_BUILT =
  "--kv-transport rdma is not built in this RadixServe: no RDMA (ibverbs) data plane was compiled. " +
  "Use --kv-transport grpc (any hosts) or shm (same host).";

export class RdmaKvTransport implements KvTransport {
  readonly name = "rdma" as const;
  async init(): Promise<void> {
    throw new RadixServeError("not_implemented", NOT_BUILT);
  }
  async openReceiver(): Promise<KvReceiver> {
    throw new RadixServeError("not_implemented", NOT_BUILT);
  }
  async openSender(): Promise<KvSender> {
    throw new RadixServeError("not_implemented", NOT_BUILT);
  }
}
