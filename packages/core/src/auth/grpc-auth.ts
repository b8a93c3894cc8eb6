/**
 * Cluster-secret authentication of the gRPC services (WorkerService, PrefillService): the calling
 * side adds its token (ClusterSecret.grpcToken) as call metadata through a client interceptor; the
 * serving side checks it in a server interceptor, before any handler runs, for every method of
 * every service on the server. A call without the token, or with another, ends UNAUTHENTICATED.
 */
import * as grpc from "@grpc/grpc-js";
import type { ClusterSecret } from "./cluster-secret.js";

/** The metadata key that carries the token. */
export const CLUSTER_AUTH_METADATA_KEY = "x-radixserve-cluster-auth";

/** Channel options for a client of a worker: its calls carry the token (none: options unchanged). */
export function clusterAuthClientOptions(secret: ClusterSecret | null | undefined): grpc.ClientOptions {
  if (!secret) return {};
  const interceptor: grpc.Interceptor = (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(CLUSTER_AUTH_METADATA_KEY, secret.grpcToken);
        next(metadata, listener);
      },
    });
  return { interceptors: [interceptor] };
}

/** Server options that refuse calls without the token (none: options unchanged). */
export function clusterAuthServerOptions(secret: ClusterSecret | null | undefined): grpc.ServerOptions {
  if (!secret) return {};
  const interceptor: grpc.ServerInterceptor = (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const token = metadata.get(CLUSTER_AUTH_METADATA_KEY)[0];
            if (typeof token === "string" && secret.acceptsToken(token)) {
              mdNext(metadata);
              return;
            }
            call.sendStatus({
              code: grpc.status.UNAUTHENTICATED,
              details: `${method.path}: ${token === undefined ? "missing" : "wrong"} cluster credentials (${CLUSTER_AUTH_METADATA_KEY})`,
              metadata: new grpc.Metadata(),
            });
          },
        });
      },
    });
  return { interceptors: [interceptor] };
}
