/**
 * The cluster secret: what router, prefill and decode workers share so that only they talk to one
 * another. It comes from a file (`--cluster-secret-file`, e.g. a Kubernetes Secret mounted as a
 * file) or from the RADIXSERVE_CLUSTER_SECRET environment variable, never from argv (which any
 * local user can read in /proc). The secret itself never crosses the wire: each use gets its own
 * key derived from it with HMAC-SHA256, so a token seen on one channel opens no other.
 *   - gRPC (router -> worker, decode -> prefill): a token sent as call metadata (grpc-auth.ts).
 *   - the tcp KV data plane: a 32-byte key for the native challenge handshake (both ends prove they
 *     hold it over fresh nonces; native/kv-transfer-auth.h in the engine).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

/** The environment variable that may hold the secret (the flag's file wins when both are set). */
export const CLUSTER_SECRET_ENV = "RADIXSERVE_CLUSTER_SECRET";
/** Fewer bytes than this are refused: a short secret is guessable offline from one handshake. */
export const MIN_CLUSTER_SECRET_BYTES = 16;

export class ClusterSecret {
  /** The gRPC metadata value callers send (hex; derived, not the secret). */
  readonly grpcToken: string;
  /** The tcp data plane's handshake key (32 bytes; derived). */
  readonly kvAuthKey: Buffer;
  private readonly tokenDigest: Buffer;

  private constructor(secret: Buffer) {
    this.grpcToken = createHmac("sha256", secret).update("radixserve cluster grpc v1").digest("hex");
    this.kvAuthKey = createHmac("sha256", secret).update("radixserve cluster kv-tcp v1").digest();
    this.tokenDigest = createHash("sha256").update(this.grpcToken).digest();
  }

  /** From the secret's bytes; surrounding whitespace (a file's trailing newline) is not part of it. */
  static fromBytes(bytes: Buffer | string, source: string): ClusterSecret {
    const secret = Buffer.from(
      typeof bytes === "string" ? bytes.trim() : bytes.toString("latin1").trim(),
      "latin1",
    );
    if (secret.length < MIN_CLUSTER_SECRET_BYTES)
      throw new Error(
        `the cluster secret from ${source} has ${secret.length} bytes; use at least ${MIN_CLUSTER_SECRET_BYTES} (e.g. openssl rand -hex 32)`,
      );
    return new ClusterSecret(secret);
  }

  /** True when `token` is this secret's gRPC token (compared in constant time). */
  acceptsToken(token: string): boolean {
    return timingSafeEqual(createHash("sha256").update(token).digest(), this.tokenDigest);
  }
}

/**
 * The process's cluster secret: from `file` when given, else from RADIXSERVE_CLUSTER_SECRET, else
 * none (cluster-internal traffic unauthenticated, as before). Throws a one-line Error naming the
 * source when it cannot be read or is too short.
 */
export function loadClusterSecret(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClusterSecret | null {
  if (file) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new Error(
        `--cluster-secret-file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    return ClusterSecret.fromBytes(bytes, `--cluster-secret-file ${file}`);
  }
  const v = env[CLUSTER_SECRET_ENV];
  if (v === undefined || v === "") return null;
  return ClusterSecret.fromBytes(v, `$${CLUSTER_SECRET_ENV}`);
}
