/**
 * The KvTransport registry (grpc-js load-balancer style): a transport is one file plus one line
 * here. Workers ask for a transport by its configuration name (--kv-transport); the prefill side
 * picks the sender for whatever the decode side offered with senderForOffer.
 */

import type { KvTransferOffer } from "@radixserve/core";
import { RadixServeError } from "@radixserve/core";
import { AutoKvTransport } from "./auto-transport.js";
import { GrpcInlineSender, GrpcKvTransport } from "./grpc-transport.js";
import type { KvBlockSource, KvSender, KvTransport, KvTransportName } from "./kv-transport.js";
import { RdmaKvTransport } from "./rdma-transport.js";
import { ShmKvTransport } from "./shm-transport.js";
import { TcpKvTransport } from "./tcp-transport.js";

/** Where the process listens (the tcp data plane binds here). */
export interface KvTransportOptions {
  host?: string;
  /** `auto`: leave shared memory out (e.g. when the workers share a host but must not share memory). */
  disableShm?: boolean;
  /** The address peers dial for this process's data plane (default: host, or the hostname for a wildcard host). */
  advertiseHost?: string;
  /** The tcp data plane's listening port (0 or absent: a free port). */
  port?: number;
  /** The cluster's data-plane key (ClusterSecret.kvAuthKey): tcp runs its handshake with it. */
  authKey?: Uint8Array;
}

type Factory = (opts: KvTransportOptions) => KvTransport;

const factories = new Map<string, Factory>([
  ["grpc", () => new GrpcKvTransport()],
  ["shm", () => new ShmKvTransport()],
  ["tcp", (o) => new TcpKvTransport(o)],
  ["rdma", () => new RdmaKvTransport()],
  ["auto", (o) => new AutoKvTransport(o.disableShm ? null : new ShmKvTransport(), new TcpKvTransport(o))],
]);

/** Adds (or replaces) a transport; a native build registers `tcp` this way. */
export function registerKvTransport(name: KvTransportName, factory: Factory): void {
  factories.set(name, factory);
}

/** The names a worker accepts for --kv-transport (`auto` is resolved by the worker, not here). */
export function kvTransportNames(): string[] {
  return [...factories.keys()];
}

/**
 * Creates and initialises the transport named by configuration. Throws RadixServeError with a
 * message that says what to use instead when the name is unknown or cannot work here.
 */
export async function createKvTransport(name: string, opts: KvTransportOptions = {}): Promise<KvTransport> {
  const factory = factories.get(name);
  if (!factory)
    throw new RadixServeError(
      "not_implemented",
      `--kv-transport ${name} is not available in this build; choose one of ${kvTransportNames().join(", ")}`,
    );
  const t = factory(opts);
  if (t instanceof AutoKvTransport) return initAuto(t);
  await t.init();
  return t;
}

/** `auto` keeps the media that can work here and falls back to grpc when none can. */
async function initAuto(t: AutoKvTransport): Promise<KvTransport> {
  const ok = async (m: KvTransport | null) =>
    m
      ? m.init().then(
          () => m,
          () => null,
        )
      : null;
  const [shm, tcp] = await Promise.all([ok(t.shm), ok(t.tcp)]);
  if (!shm && !tcp) return new GrpcKvTransport();
  return new AutoKvTransport(shm as ShmKvTransport | null, tcp as TcpKvTransport | null);
}

const senders = new Map<string, KvTransport | null>();

async function openWith(
  name: string,
  offer: KvTransferOffer,
  source: KvBlockSource | undefined,
  opts: KvTransportOptions,
): Promise<KvSender> {
  const id = opts.authKey ? `${name}:${Buffer.from(opts.authKey).toString("hex")}` : name;
  if (!senders.has(id)) senders.set(id, factories.get(name)?.(opts) ?? null);
  const transport = senders.get(id);
  if (!transport) return new GrpcInlineSender();
  try {
    return await transport.openSender(offer, source);
  } catch {
    return new GrpcInlineSender();
  }
}

/**
 * P's side: the sender for D's offer. An offer naming a transport this process does not have (or
 * that cannot send from here) falls back to inline gRPC bytes, which every receiver accepts.
 * Sender-side instances are never init()ed: only receivers listen or create files. `source`: the
 * engine P sends from (lets a transport refuse, up front, an offer this engine cannot honour).
 * `opts.authKey`: the cluster's data-plane key (a tcp sender runs the handshake with it).
 */
export async function senderForOffer(
  offer: KvTransferOffer | null | undefined,
  source?: KvBlockSource,
  opts: Pick<KvTransportOptions, "authKey"> = {},
): Promise<KvSender> {
  const name = offer?.transport ?? "grpc";
  if (!offer || name === "grpc" || name === "") return new GrpcInlineSender();
  if (name !== "auto") return openWith(name, offer, source, opts);
  // D offered every medium it has: the fastest this process can use wins.
  for (const medium of ["shm", "tcp"] as const) {
    const s = await openWith(medium, offer, source, opts);
    if (s.name === medium) return s;
    s.close();
  }
  return new GrpcInlineSender();
}
