/**
 * Mutual TLS for the cluster's gRPC traffic (router -> worker, decode -> prefill), the alternative
 * (or complement) to the cluster secret's call tokens: every process gets its certificate, its key
 * and the cluster CA (`--tls-cert`, `--tls-key`, `--tls-ca`). A worker then serves TLS only and
 * requires a client certificate the CA signed; callers verify the worker's certificate against the
 * same CA and the address they dial (so certificates name the workers' hosts or IPs). The KV tcp
 * data plane is not covered by TLS: give the cluster secret as well to authenticate it.
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { ClusterSecret } from "./cluster-secret.js";

export interface ClusterTlsFiles {
  cert?: string | undefined;
  key?: string | undefined;
  ca?: string | undefined;
}

/** A process's TLS identity in the cluster: its certificate chain and key, and the CA it trusts. */
export class ClusterTls {
  private constructor(
    readonly cert: Buffer,
    readonly key: Buffer,
    readonly ca: Buffer,
  ) {}

  /**
   * Reads the three files; null when none is given. Throws a one-line Error naming the flag when
   * only some are given or one cannot be read.
   */
  static load(files: ClusterTlsFiles): ClusterTls | null {
    const given = (["cert", "key", "ca"] as const).filter((k) => files[k]);
    if (given.length === 0) return null;
    if (given.length < 3)
      throw new Error(
        `mutual TLS needs --tls-cert, --tls-key and --tls-ca together; missing ${(
          ["cert", "key", "ca"] as const
        )
          .filter((k) => !files[k])
          .map((k) => `--tls-${k}`)
          .join(", ")}`,
      );
    const read = (k: "cert" | "key" | "ca"): Buffer => {
      try {
        return readFileSync(files[k]!);
      } catch (err) {
        throw new Error(
          `--tls-${k} ${files[k]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
    };
    return new ClusterTls(read("cert"), read("key"), read("ca"));
  }

  /** A worker's server side: TLS only, client certificates required and checked against the CA. */
  serverCredentials(): grpc.ServerCredentials {
    return grpc.ServerCredentials.createSsl(
      this.ca,
      [{ cert_chain: this.cert, private_key: this.key }],
      true,
    );
  }

  /** A caller's side: presents this certificate, verifies the worker's against the CA. */
  channelCredentials(): grpc.ChannelCredentials {
    return grpc.credentials.createSsl(this.ca, this.key, this.cert);
  }
}

/** How a process authenticates itself to the workers it calls: a secret's token, TLS, both or neither. */
export interface ClusterAuth {
  secret?: ClusterSecret | null | undefined;
  tls?: ClusterTls | null | undefined;
}

/** Channel credentials for a worker client: TLS when configured, else plaintext. */
export function clusterChannelCredentials(auth: ClusterAuth | undefined): grpc.ChannelCredentials {
  return auth?.tls ? auth.tls.channelCredentials() : grpc.credentials.createInsecure();
}

/** A worker's server credentials: TLS (client certificates required) when configured, else plaintext. */
export function clusterServerCredentials(tls: ClusterTls | null | undefined): grpc.ServerCredentials {
  return tls ? tls.serverCredentials() : grpc.ServerCredentials.createInsecure();
}
