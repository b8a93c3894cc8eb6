// Original file: protos/radixserve/worker/v1/worker.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { PrefillClientMessage as _radixserve_worker_v1_PrefillClientMessage, PrefillClientMessage__Output as _radixserve_worker_v1_PrefillClientMessage__Output } from '../../../radixserve/worker/v1/PrefillClientMessage.js';
import type { PrefillServerMessage as _radixserve_worker_v1_PrefillServerMessage, PrefillServerMessage__Output as _radixserve_worker_v1_PrefillServerMessage__Output } from '../../../radixserve/worker/v1/PrefillServerMessage.js';

/**
 * ---------------------------------------------------------------------------------------------
 * Prefill/decode disaggregation. A decode worker D that the router gave a request with
 * `prefill_address` reserves KV blocks for the prompt, then opens ONE Prefill stream to that
 * prefill worker P for the request:
 * D -> P  start      the request, how many leading prompt blocks D already holds (not sent),
 * how the bytes may travel (KvTransferOffer), the flow-control window
 * P -> D  chunk*     KV blocks as each prefill chunk is computed (bytes inline for `grpc`, a
 * location for `shm`/`tcp`), each with a CRC-32C; at most `window_chunks` unacked
 * D -> P  chunk_ack* after D imported a chunk (credit for the next one)
 * P -> D  done       the first token, totals and a CRC-32C over the chunks' CRC-32Cs
 * Checksums are CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor
 * 0xFFFFFFFF: crc32c("123456789") = 0xE3069283), computed by the engine while it copies blocks.
 * The fields keep their historical name `crc32`.
 * D -> P  done_ack   D adopted the KV (or failed); P frees its side and ends the stream
 * Either side cancelling the stream (or dying) aborts the transfer; both free their blocks.
 */
export interface PrefillServiceClient extends grpc.Client {
  Prefill(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_radixserve_worker_v1_PrefillClientMessage, _radixserve_worker_v1_PrefillServerMessage__Output>;
  Prefill(options?: grpc.CallOptions): grpc.ClientDuplexStream<_radixserve_worker_v1_PrefillClientMessage, _radixserve_worker_v1_PrefillServerMessage__Output>;
  prefill(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_radixserve_worker_v1_PrefillClientMessage, _radixserve_worker_v1_PrefillServerMessage__Output>;
  prefill(options?: grpc.CallOptions): grpc.ClientDuplexStream<_radixserve_worker_v1_PrefillClientMessage, _radixserve_worker_v1_PrefillServerMessage__Output>;
  
}

/**
 * ---------------------------------------------------------------------------------------------
 * Prefill/decode disaggregation. A decode worker D that the router gave a request with
 * `prefill_address` reserves KV blocks for the prompt, then opens ONE Prefill stream to that
 * prefill worker P for the request:
 * D -> P  start      the request, how many leading prompt blocks D already holds (not sent),
 * how the bytes may travel (KvTransferOffer), the flow-control window
 * P -> D  chunk*     KV blocks as each prefill chunk is computed (bytes inline for `grpc`, a
 * location for `shm`/`tcp`), each with a CRC-32C; at most `window_chunks` unacked
 * D -> P  chunk_ack* after D imported a chunk (credit for the next one)
 * P -> D  done       the first token, totals and a CRC-32C over the chunks' CRC-32Cs
 * Checksums are CRC-32C (Castagnoli, reflected polynomial 0x82F63B78, init and final xor
 * 0xFFFFFFFF: crc32c("123456789") = 0xE3069283), computed by the engine while it copies blocks.
 * The fields keep their historical name `crc32`.
 * D -> P  done_ack   D adopted the KV (or failed); P frees its side and ends the stream
 * Either side cancelling the stream (or dying) aborts the transfer; both free their blocks.
 */
export interface PrefillServiceHandlers extends grpc.UntypedServiceImplementation {
  Prefill: grpc.handleBidiStreamingCall<_radixserve_worker_v1_PrefillClientMessage__Output, _radixserve_worker_v1_PrefillServerMessage>;
  
}

export interface PrefillServiceDefinition extends grpc.ServiceDefinition {
  Prefill: MethodDefinition<_radixserve_worker_v1_PrefillClientMessage, _radixserve_worker_v1_PrefillServerMessage, _radixserve_worker_v1_PrefillClientMessage__Output, _radixserve_worker_v1_PrefillServerMessage__Output>
}
