import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AbortRequest as _radixserve_worker_v1_AbortRequest, AbortRequest__Output as _radixserve_worker_v1_AbortRequest__Output } from './radixserve/worker/v1/AbortRequest.js';
import type { AbortResponse as _radixserve_worker_v1_AbortResponse, AbortResponse__Output as _radixserve_worker_v1_AbortResponse__Output } from './radixserve/worker/v1/AbortResponse.js';
import type { ChunkAck as _radixserve_worker_v1_ChunkAck, ChunkAck__Output as _radixserve_worker_v1_ChunkAck__Output } from './radixserve/worker/v1/ChunkAck.js';
import type { Finished as _radixserve_worker_v1_Finished, Finished__Output as _radixserve_worker_v1_Finished__Output } from './radixserve/worker/v1/Finished.js';
import type { FlushCacheRequest as _radixserve_worker_v1_FlushCacheRequest, FlushCacheRequest__Output as _radixserve_worker_v1_FlushCacheRequest__Output } from './radixserve/worker/v1/FlushCacheRequest.js';
import type { FlushCacheResponse as _radixserve_worker_v1_FlushCacheResponse, FlushCacheResponse__Output as _radixserve_worker_v1_FlushCacheResponse__Output } from './radixserve/worker/v1/FlushCacheResponse.js';
import type { GenerateRequest as _radixserve_worker_v1_GenerateRequest, GenerateRequest__Output as _radixserve_worker_v1_GenerateRequest__Output } from './radixserve/worker/v1/GenerateRequest.js';
import type { GenerateResponse as _radixserve_worker_v1_GenerateResponse, GenerateResponse__Output as _radixserve_worker_v1_GenerateResponse__Output } from './radixserve/worker/v1/GenerateResponse.js';
import type { GetLoadRequest as _radixserve_worker_v1_GetLoadRequest, GetLoadRequest__Output as _radixserve_worker_v1_GetLoadRequest__Output } from './radixserve/worker/v1/GetLoadRequest.js';
import type { GetLoadResponse as _radixserve_worker_v1_GetLoadResponse, GetLoadResponse__Output as _radixserve_worker_v1_GetLoadResponse__Output } from './radixserve/worker/v1/GetLoadResponse.js';
import type { GetModelInfoRequest as _radixserve_worker_v1_GetModelInfoRequest, GetModelInfoRequest__Output as _radixserve_worker_v1_GetModelInfoRequest__Output } from './radixserve/worker/v1/GetModelInfoRequest.js';
import type { GetModelInfoResponse as _radixserve_worker_v1_GetModelInfoResponse, GetModelInfoResponse__Output as _radixserve_worker_v1_GetModelInfoResponse__Output } from './radixserve/worker/v1/GetModelInfoResponse.js';
import type { HealthRequest as _radixserve_worker_v1_HealthRequest, HealthRequest__Output as _radixserve_worker_v1_HealthRequest__Output } from './radixserve/worker/v1/HealthRequest.js';
import type { HealthResponse as _radixserve_worker_v1_HealthResponse, HealthResponse__Output as _radixserve_worker_v1_HealthResponse__Output } from './radixserve/worker/v1/HealthResponse.js';
import type { KvChunk as _radixserve_worker_v1_KvChunk, KvChunk__Output as _radixserve_worker_v1_KvChunk__Output } from './radixserve/worker/v1/KvChunk.js';
import type { KvTransferOffer as _radixserve_worker_v1_KvTransferOffer, KvTransferOffer__Output as _radixserve_worker_v1_KvTransferOffer__Output } from './radixserve/worker/v1/KvTransferOffer.js';
import type { PrefillClientMessage as _radixserve_worker_v1_PrefillClientMessage, PrefillClientMessage__Output as _radixserve_worker_v1_PrefillClientMessage__Output } from './radixserve/worker/v1/PrefillClientMessage.js';
import type { PrefillDone as _radixserve_worker_v1_PrefillDone, PrefillDone__Output as _radixserve_worker_v1_PrefillDone__Output } from './radixserve/worker/v1/PrefillDone.js';
import type { PrefillServerMessage as _radixserve_worker_v1_PrefillServerMessage, PrefillServerMessage__Output as _radixserve_worker_v1_PrefillServerMessage__Output } from './radixserve/worker/v1/PrefillServerMessage.js';
import type { PrefillServiceClient as _radixserve_worker_v1_PrefillServiceClient, PrefillServiceDefinition as _radixserve_worker_v1_PrefillServiceDefinition } from './radixserve/worker/v1/PrefillService.js';
import type { PrefillStart as _radixserve_worker_v1_PrefillStart, PrefillStart__Output as _radixserve_worker_v1_PrefillStart__Output } from './radixserve/worker/v1/PrefillStart.js';
import type { PromptLogprobs as _radixserve_worker_v1_PromptLogprobs, PromptLogprobs__Output as _radixserve_worker_v1_PromptLogprobs__Output } from './radixserve/worker/v1/PromptLogprobs.js';
import type { PromptLogprobsRequest as _radixserve_worker_v1_PromptLogprobsRequest, PromptLogprobsRequest__Output as _radixserve_worker_v1_PromptLogprobsRequest__Output } from './radixserve/worker/v1/PromptLogprobsRequest.js';
import type { PromptTokenLogprob as _radixserve_worker_v1_PromptTokenLogprob, PromptTokenLogprob__Output as _radixserve_worker_v1_PromptTokenLogprob__Output } from './radixserve/worker/v1/PromptTokenLogprob.js';
import type { SamplingParams as _radixserve_worker_v1_SamplingParams, SamplingParams__Output as _radixserve_worker_v1_SamplingParams__Output } from './radixserve/worker/v1/SamplingParams.js';
import type { TokenEvent as _radixserve_worker_v1_TokenEvent, TokenEvent__Output as _radixserve_worker_v1_TokenEvent__Output } from './radixserve/worker/v1/TokenEvent.js';
import type { TokenLogprob as _radixserve_worker_v1_TokenLogprob, TokenLogprob__Output as _radixserve_worker_v1_TokenLogprob__Output } from './radixserve/worker/v1/TokenLogprob.js';
import type { TopLogprob as _radixserve_worker_v1_TopLogprob, TopLogprob__Output as _radixserve_worker_v1_TopLogprob__Output } from './radixserve/worker/v1/TopLogprob.js';
import type { TransferAck as _radixserve_worker_v1_TransferAck, TransferAck__Output as _radixserve_worker_v1_TransferAck__Output } from './radixserve/worker/v1/TransferAck.js';
import type { Usage as _radixserve_worker_v1_Usage, Usage__Output as _radixserve_worker_v1_Usage__Output } from './radixserve/worker/v1/Usage.js';
import type { WorkerError as _radixserve_worker_v1_WorkerError, WorkerError__Output as _radixserve_worker_v1_WorkerError__Output } from './radixserve/worker/v1/WorkerError.js';
import type { WorkerServiceClient as _radixserve_worker_v1_WorkerServiceClient, WorkerServiceDefinition as _radixserve_worker_v1_WorkerServiceDefinition } from './radixserve/worker/v1/WorkerService.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  radixserve: {
    worker: {
      v1: {
        AbortRequest: MessageTypeDefinition<_radixserve_worker_v1_AbortRequest, _radixserve_worker_v1_AbortRequest__Output>
        AbortResponse: MessageTypeDefinition<_radixserve_worker_v1_AbortResponse, _radixserve_worker_v1_AbortResponse__Output>
        ChunkAck: MessageTypeDefinition<_radixserve_worker_v1_ChunkAck, _radixserve_worker_v1_ChunkAck__Output>
        FinishReason: EnumTypeDefinition
        Finished: MessageTypeDefinition<_radixserve_worker_v1_Finished, _radixserve_worker_v1_Finished__Output>
        FlushCacheRequest: MessageTypeDefinition<_radixserve_worker_v1_FlushCacheRequest, _radixserve_worker_v1_FlushCacheRequest__Output>
        FlushCacheResponse: MessageTypeDefinition<_radixserve_worker_v1_FlushCacheResponse, _radixserve_worker_v1_FlushCacheResponse__Output>
        GenerateRequest: MessageTypeDefinition<_radixserve_worker_v1_GenerateRequest, _radixserve_worker_v1_GenerateRequest__Output>
        GenerateResponse: MessageTypeDefinition<_radixserve_worker_v1_GenerateResponse, _radixserve_worker_v1_GenerateResponse__Output>
        GetLoadRequest: MessageTypeDefinition<_radixserve_worker_v1_GetLoadRequest, _radixserve_worker_v1_GetLoadRequest__Output>
        GetLoadResponse: MessageTypeDefinition<_radixserve_worker_v1_GetLoadResponse, _radixserve_worker_v1_GetLoadResponse__Output>
        GetModelInfoRequest: MessageTypeDefinition<_radixserve_worker_v1_GetModelInfoRequest, _radixserve_worker_v1_GetModelInfoRequest__Output>
        GetModelInfoResponse: MessageTypeDefinition<_radixserve_worker_v1_GetModelInfoResponse, _radixserve_worker_v1_GetModelInfoResponse__Output>
        HealthRequest: MessageTypeDefinition<_radixserve_worker_v1_HealthRequest, _radixserve_worker_v1_HealthRequest__Output>
        HealthResponse: MessageTypeDefinition<_radixserve_worker_v1_HealthResponse, _radixserve_worker_v1_HealthResponse__Output>
        KvChunk: MessageTypeDefinition<_radixserve_worker_v1_KvChunk, _radixserve_worker_v1_KvChunk__Output>
        KvTransferOffer: MessageTypeDefinition<_radixserve_worker_v1_KvTransferOffer, _radixserve_worker_v1_KvTransferOffer__Output>
        PrefillClientMessage: MessageTypeDefinition<_radixserve_worker_v1_PrefillClientMessage, _radixserve_worker_v1_PrefillClientMessage__Output>
        PrefillDone: MessageTypeDefinition<_radixserve_worker_v1_PrefillDone, _radixserve_worker_v1_PrefillDone__Output>
        PrefillServerMessage: MessageTypeDefinition<_radixserve_worker_v1_PrefillServerMessage, _radixserve_worker_v1_PrefillServerMessage__Output>
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
        PrefillService: SubtypeConstructor<typeof grpc.Client, _radixserve_worker_v1_PrefillServiceClient> & { service: _radixserve_worker_v1_PrefillServiceDefinition }
        PrefillStart: MessageTypeDefinition<_radixserve_worker_v1_PrefillStart, _radixserve_worker_v1_PrefillStart__Output>
        PromptLogprobs: MessageTypeDefinition<_radixserve_worker_v1_PromptLogprobs, _radixserve_worker_v1_PromptLogprobs__Output>
        PromptLogprobsRequest: MessageTypeDefinition<_radixserve_worker_v1_PromptLogprobsRequest, _radixserve_worker_v1_PromptLogprobsRequest__Output>
        PromptTokenLogprob: MessageTypeDefinition<_radixserve_worker_v1_PromptTokenLogprob, _radixserve_worker_v1_PromptTokenLogprob__Output>
        SamplingParams: MessageTypeDefinition<_radixserve_worker_v1_SamplingParams, _radixserve_worker_v1_SamplingParams__Output>
        TokenEvent: MessageTypeDefinition<_radixserve_worker_v1_TokenEvent, _radixserve_worker_v1_TokenEvent__Output>
        TokenLogprob: MessageTypeDefinition<_radixserve_worker_v1_TokenLogprob, _radixserve_worker_v1_TokenLogprob__Output>
        TopLogprob: MessageTypeDefinition<_radixserve_worker_v1_TopLogprob, _radixserve_worker_v1_TopLogprob__Output>
        TransferAck: MessageTypeDefinition<_radixserve_worker_v1_TransferAck, _radixserve_worker_v1_TransferAck__Output>
        Usage: MessageTypeDefinition<_radixserve_worker_v1_Usage, _radixserve_worker_v1_Usage__Output>
        WorkerError: MessageTypeDefinition<_radixserve_worker_v1_WorkerError, _radixserve_worker_v1_WorkerError__Output>
        WorkerService: SubtypeConstructor<typeof grpc.Client, _radixserve_worker_v1_WorkerServiceClient> & { service: _radixserve_worker_v1_WorkerServiceDefinition }
      }
    }
  }
}

